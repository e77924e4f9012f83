"""Money races: a capture racing the cancellation of its order, late surplus captures racing each other.

On PostgreSQL only row locks keep two transactions from deciding on the same stale balance; both
paths take them through ``carloop/locks.py`` (the order, then its payments). Each race starts both
transactions at a barrier, several times over, and then the order must have lost no more than its
policy, kept nothing it cannot use, and the books must check clean (on SQLite the writers queue).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Principal, Role
from carloop.catalog.schemas import ConfigurationIn
from carloop.network import handover
from carloop.network import service as network
from carloop.ordering import rules
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.payments import ledger
from carloop.payments import service as payments
from carloop.payments.models import Forfeiture, PaymentPurpose
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider

PROVIDER = SimulatorProvider(secret="race")
VIN = "LSJA24U69PS000001"
ROUNDS = 4


def race(*actions: Callable[[], None]) -> list[BaseException]:
    """Run the actions in threads released together; the errors they raised."""
    barrier = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def run(action: Callable[[], None]) -> None:
        barrier.wait()
        try:
            action()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def signed(payment_trade_no: str, amount_fen: int) -> dict[str, str]:
    return PROVIDER.signed_notification(
        trade_no=payment_trade_no, amount_fen=amount_fen, status=NotificationStatus.SUCCEEDED
    )


def capture(factory: sessionmaker[Session], form: dict[str, str]) -> None:
    with factory.begin() as session:
        ordering.handle_notification(session=session, provider=PROVIDER, form=form)


def locked_order_with_balance(factory: sessionmaker[Session], phone: str) -> tuple[str, int, dict[str, str]]:
    """A locked order with one balance payment captured and one in flight: (number, id, its capture)."""
    with factory.begin() as session:
        buyer = accounts.get_or_create_customer(session=session, phone=phone)
        order = ordering.reserve(
            session=session, customer_id=buyer.id, config=ConfigurationIn(model="su7", trim="pro")
        )
        deposit = ordering.start_deposit_payment(
            session=session, provider=PROVIDER, order=order, base_url="t"
        )
        ordering.handle_notification(
            session=session, provider=PROVIDER, form=signed(deposit.trade_no, deposit.amount_fen)
        )
        summary = ordering.configuration_summary(order)
        confirmation = rules.LockConfirmation(True, order.deposit_fen, summary)
        ordering.lock(session=session, order=order, confirmation=confirmation, actor="t")
        forms = []
        for amount in (1_000_000, 700_000):
            p = payments.start_payment(
                session=session,
                provider=PROVIDER,
                order_id=order.id,
                purpose=PaymentPurpose.BALANCE,
                amount_fen=amount,
                subject="balance",
                return_url="t",
                notify_url="t",
            )
            forms.append(signed(p.trade_no, amount))
        ordering.handle_notification(session=session, provider=PROVIDER, form=forms[0])
        return order.number, order.id, forms[1]


def assert_books(factory: sessionmaker[Session], order_id: int) -> None:
    with factory.begin() as session:
        order = session.get(Order, order_id)
        assert order is not None
        held = ledger.held_for_order(session=session, order_id=order_id)
        forfeit = session.query(Forfeiture).filter_by(order_id=order_id).one_or_none()
        if order.status is OrderStatus.CANCELLED:
            assert held == 0
            assert forfeit is not None and forfeit.amount_fen == order.deposit_fen
        if order.status is OrderStatus.DELIVERED:
            assert held == order.total_fen
        report = ordering.check_ledger(session=session)
        assert report.ok, (report.mismatches, report.policy_breaches, report.account_mismatches)


def test_a_balance_capture_racing_the_cancellation_is_refunded(
    session_factory: sessionmaker[Session],
) -> None:
    for n in range(ROUNDS):
        number, order_id, late = locked_order_with_balance(session_factory, f"1391000000{n}")

        def cancel(number: str = number) -> None:
            with session_factory.begin() as session:
                order = ordering.load(session=session, number=number, for_update=True)
                ordering.cancel(
                    session=session, provider=PROVIDER, order=order, actor="t", accept_forfeit=True
                )

        assert race(cancel, lambda late=late: capture(session_factory, late)) == []  # type: ignore[misc]
        assert_books(session_factory, order_id)
        with session_factory.begin() as session:
            paid = payments.payments_for_order(session=session, order_id=order_id)
            balance = [p for p in paid if p.purpose is PaymentPurpose.BALANCE]
            assert [payments.refunded_fen(p) for p in balance] == [1_000_000, 700_000]


def test_late_surplus_captures_racing_each_other_after_delivery_are_each_refunded(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        network.seed_sample_network(session=session)
    for n in range(ROUNDS):
        number, order_id, late = locked_order_with_balance(session_factory, f"1392000000{n}")
        with session_factory.begin() as session:
            order = ordering.load(session=session, number=number, for_update=True)
            network.assign_delivery_centre(session=session, order=order, city="Beijing", actor="t")
            for target in rules.ACTIVE_AFTER_LOCK[1:]:
                extra = {"vin": VIN} if target is OrderStatus.BUILT else {}
                ordering.advance(session=session, order=order, target=target, actor="t", reason="t", **extra)
            due = handover.balance(session=session, order=order).due_fen
            extra_forms = []
            for amount in (due, 300_000):
                p = payments.start_payment(
                    session=session,
                    provider=PROVIDER,
                    order_id=order.id,
                    purpose=PaymentPurpose.BALANCE,
                    amount_fen=amount,
                    subject="balance",
                    return_url="t",
                    notify_url="t",
                )
                extra_forms.append(signed(p.trade_no, amount))
            ordering.handle_notification(session=session, provider=PROVIDER, form=extra_forms[0])
            staff = Principal(role=Role.STORE_STAFF, staff_id=1, store_id=order.delivery_store_id)
            handover.hand_over(
                session=session,
                principal=staff,
                number=number,
                vin=VIN,
                inspection_passed=True,
                documents_signed=True,
                provider=PROVIDER,
            )
        errors = race(
            lambda late=late: capture(session_factory, late),  # type: ignore[misc]
            lambda form=extra_forms[1]: capture(session_factory, form),  # type: ignore[misc]
            lambda late=late: capture(session_factory, late),  # type: ignore[misc]  # and a repeat
        )
        assert errors == []
        assert_books(session_factory, order_id)

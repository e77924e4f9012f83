"""A cancelled or delivered order keeps only what its policy allows; every unusable capture goes back.

Issue 14: cancelling a locked order forfeited everything held (balance payments too), a balance
payment captured after the cancellation was kept, and a surplus arriving after the handover waited
for a handover that had already happened. ``carloop ledger check`` could see none of it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.ordering import rules
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.payments import ledger
from carloop.payments import service as payments
from carloop.payments.models import Forfeiture, Payment, PaymentPurpose, PaymentStatus
from carloop.payments.providers.simulator import SimulatorProvider

from .conftest import notify, paid_order


def locked_order(session: Session, provider: SimulatorProvider, buyer_id: int) -> Order:
    """A paid order the buyer locked early."""
    order = paid_order(session, provider, buyer_id)
    confirmation = rules.LockConfirmation(True, order.deposit_fen, ordering.configuration_summary(order))
    ordering.lock(session=session, order=order, confirmation=confirmation, actor="test")
    return order


def start_balance(session: Session, provider: SimulatorProvider, order: Order, amount_fen: int) -> Payment:
    """A pending online balance payment of ``amount_fen``."""
    return payments.start_payment(
        session=session,
        provider=provider,
        order_id=order.id,
        purpose=PaymentPurpose.BALANCE,
        amount_fen=amount_fen,
        subject=f"Balance {order.number}",
        return_url="http://testserver/",
        notify_url="http://testserver/notify",
    )


def test_cancelling_a_locked_order_forfeits_the_deposit_and_refunds_the_balance(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = locked_order(session, provider, buyer_id)
    notify(session, provider, start_balance(session, provider, order, 1_000_000))
    notify(session, provider, start_balance(session, provider, order, 500_000))
    ordering.cancel(session=session, provider=provider, order=order, actor="test", accept_forfeit=True)

    forfeiture = session.scalar(select(Forfeiture).where(Forfeiture.order_id == order.id))
    assert forfeiture is not None and forfeiture.amount_fen == order.deposit_fen
    assert ledger.held_for_order(session=session, order_id=order.id) == 0
    balance = [
        p for p in payments.payments_for_order(session=session, order_id=order.id) if p.purpose == "balance"
    ]
    assert [payments.refunded_fen(p) for p in balance] == [1_000_000, 500_000]
    report = ordering.check_ledger(session=session)
    assert report.ok, (report.mismatches, report.policy_breaches)


def test_a_balance_payment_captured_after_cancellation_is_refunded_once(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = locked_order(session, provider, buyer_id)
    pending = start_balance(session, provider, order, 2_000_000)
    ordering.cancel(session=session, provider=provider, order=order, actor="test", accept_forfeit=True)
    assert pending.status is PaymentStatus.CLOSED
    form = notify(session, provider, pending)  # the buyer had paid; the provider reports it late
    ordering.handle_notification(session=session, provider=provider, form=form)  # and again

    assert pending.status is PaymentStatus.SUCCEEDED
    assert payments.refunded_fen(pending) == 2_000_000 and len(pending.refunds) == 1
    assert ledger.held_for_order(session=session, order_id=order.id) == 0
    assert ordering.check_ledger(session=session).ok


def test_a_surplus_captured_after_delivery_is_refunded_when_it_arrives(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = locked_order(session, provider, buyer_id)
    abandoned = start_balance(session, provider, order, 300_000)
    notify(session, provider, start_balance(session, provider, order, order.total_fen - order.deposit_fen))
    for target in [*rules.ACTIVE_AFTER_LOCK[1:], OrderStatus.DELIVERED]:
        ordering.advance(session=session, order=order, target=target, actor="test", reason="test", vin="V1")
    notify(session, provider, abandoned)

    assert payments.refunded_fen(abandoned) == 300_000
    assert ledger.held_for_order(session=session, order_id=order.id) == order.total_fen
    assert ordering.check_ledger(session=session).ok


def test_the_ledger_check_names_an_order_that_forfeited_more_than_its_policy(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = locked_order(session, provider, buyer_id)
    notify(session, provider, start_balance(session, provider, order, 1_000_000))
    # The books as the old cancellation wrote them: everything held kept as a forfeit.
    held = ledger.held_for_order(session=session, order_id=order.id)
    payments.forfeit(session=session, order_id=order.id, amount_fen=held, reason="old rule")
    order.status = OrderStatus.CANCELLED
    session.flush()

    report = ordering.check_ledger(session=session)
    assert not report.ok
    assert [(b.order_id, b.number, b.amount_fen, b.limit_fen) for b in report.policy_breaches] == [
        (order.id, order.number, held, order.deposit_fen)
    ]


def test_the_ledger_check_names_an_ended_order_that_still_holds_money(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = locked_order(session, provider, buyer_id)
    order.status = OrderStatus.CANCELLED  # ended without settling its money
    session.flush()

    report = ordering.check_ledger(session=session)
    assert [(b.order_id, b.what) for b in report.policy_breaches] == [(order.id, "kept_after_end")]

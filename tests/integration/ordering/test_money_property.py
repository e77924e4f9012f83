"""Issue 14's property: whatever happens to an order's money, and in whatever order it arrives, the
buyer loses no more than the deposit policy says.

Random runs of reserve -> pay (the deposit, then the balance in parts) -> lock -> cancel / deliver,
with every payment's capture held back and delivered late, out of order, twice, or after a close,
each step one committed transaction as the web edge runs it, on SQLite and on PostgreSQL. After
every step, for every order:

    refunded + forfeited + kept = paid      and      forfeited <= the deposit policy

and an order that ended keeps nothing, a delivered one no more than its price (so every capture that
arrives for an order that can no longer use it went back). The invariants are computed here from the
payment records, independently of ``carloop ledger check``, and the check must agree.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Principal, Role
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import utcnow
from carloop.errors import DomainError
from carloop.network import handover
from carloop.network import service as network
from carloop.ordering import rules
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.payments import ledger
from carloop.payments.models import Forfeiture, Payment, PaymentStatus, Refund
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider

PROVIDER = SimulatorProvider(secret="property")
VIN = "LSJA24U69PS000001"
_phones = itertools.count(13700000000)


class MoneyMachine(RuleBasedStateMachine):
    """One buyer's orders and every way their money can arrive, leave or be kept."""

    orders = Bundle("orders")

    def __init__(self, factory: sessionmaker[Session]) -> None:
        super().__init__()
        self.factory = factory
        with factory.begin() as session:
            phone = str(next(_phones))
            customer = accounts.get_or_create_customer(session=session, phone=phone)
            session.flush()
            self.buyer = Principal(role=Role.CUSTOMER, customer_id=customer.id)
        self.mine: set[int] = set()
        self.captures: list[dict[str, str]] = []  # signed notifications the provider has not sent yet
        self.sent: list[dict[str, str]] = []  # and the ones it has (a provider repeats them)
        self.now = utcnow()

    def _step(self, action, *, swallow: bool = True) -> None:  # type: ignore[no-untyped-def]
        """Run ``action(session)`` in one committed transaction; a refused action changes nothing."""
        try:
            with self.factory.begin() as session:
                action(session)
        except DomainError:
            if not swallow:
                raise

    def _order(self, session: Session, order_id: int) -> Order:
        order = session.get(Order, order_id)
        assert order is not None
        return order

    @precondition(lambda self: len(self.mine) < 3)  # a few orders, each taken far along its life
    @rule(target=orders, trim=st.sampled_from(["standard", "pro", "max"]))
    def reserve(self, trim: str) -> int:
        with self.factory.begin() as session:
            order = ordering.reserve(
                session=session,
                customer_id=self.buyer.customer_id or 0,
                config=ConfigurationIn(model="su7", trim=trim),
                now=self.now,
            )
            network.assign_delivery_centre(session=session, order=order, city="Beijing", actor="test")
            self.mine.add(order.id)
            return order.id

    @initialize(
        target=orders,
        stage=st.sampled_from(["reserved", "locked", "at_centre", "delivered"]),
        late=st.lists(st.booleans(), max_size=3),
    )
    def an_order_well_along(self, stage: str, late: list[bool]) -> int:
        """Start from an order already some way along its life, with balance parts paid or in flight
        (the rules below then take it, and others, anywhere)."""
        order_id = self.reserve("pro")
        self.pay(order_id, part=1, late=False)
        if stage == "reserved":
            return order_id
        self.lock(order_id)
        for held_back in late:
            self.pay(order_id, part=3, late=held_back)
        if stage == "locked":
            return order_id
        self.production_moves_on(order_id, steps=5)
        if stage == "delivered":
            self.pay(order_id, part=1, late=False)
            self.hand_over(order_id)
        return order_id

    def _signed(self, payment: Payment) -> dict[str, str]:
        return PROVIDER.signed_notification(
            trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
        )

    @rule(order_id=orders, part=st.integers(min_value=1, max_value=3), late=st.booleans())
    def pay(self, order_id: int, part: int, late: bool) -> None:
        """The buyer pays what is due now (the deposit, or 1/part of the balance); its capture arrives
        at once, or is held back to arrive later."""
        forms: list[dict[str, str]] = []

        def act(session: Session) -> None:
            order = self._order(session, order_id)
            if order.status is OrderStatus.PENDING_PAYMENT:
                payment = ordering.start_deposit_payment(
                    session=session, provider=PROVIDER, order=order, base_url="http://t/"
                )
            else:
                due = handover.balance(session=session, order=order).due_fen
                payment = handover.start_balance_payment(
                    session=session,
                    provider=PROVIDER,
                    principal=self.buyer,
                    number=order.number,
                    amount_fen=max(1, -(-due // part)),
                    base_url="http://t/",
                )
            forms.append(self._signed(payment))

        self._step(act)
        if forms and late:
            self.captures.extend(forms)
        elif forms:
            self._capture(forms[0])

    def _capture(self, form: dict[str, str]) -> None:
        self.sent.append(form)
        self._step(
            lambda session: ordering.handle_notification(session=session, provider=PROVIDER, form=form)
        )

    @rule(data=st.data())
    def a_capture_arrives(self, data: st.DataObject) -> None:
        """Any held-back capture, not necessarily the oldest: late and out of order."""
        if not self.captures:
            return
        form = self.captures.pop(data.draw(st.integers(min_value=0, max_value=len(self.captures) - 1)))
        self.sent.append(form)
        self._step(
            lambda session: ordering.handle_notification(session=session, provider=PROVIDER, form=form)
        )

    @rule(data=st.data())
    def a_capture_is_repeated(self, data: st.DataObject) -> None:
        if self.sent:
            form = data.draw(st.sampled_from(self.sent))
            self._step(
                lambda session: ordering.handle_notification(session=session, provider=PROVIDER, form=form)
            )

    @rule(order_id=orders)
    def lock(self, order_id: int) -> None:
        def act(session: Session) -> None:
            order = self._order(session, order_id)
            confirmation = rules.LockConfirmation(
                True, order.deposit_fen, ordering.configuration_summary(order)
            )
            ordering.lock(session=session, order=order, confirmation=confirmation, actor="t", now=self.now)

        self._step(act)

    @rule(order_id=orders, accept=st.booleans())
    def cancel(self, order_id: int, accept: bool) -> None:
        def act(session: Session) -> None:
            order = ordering.load(
                session=session, number=self._order(session, order_id).number, for_update=True
            )
            ordering.cancel(
                session=session,
                provider=PROVIDER,
                order=order,
                actor="t",
                accept_forfeit=accept,
                now=self.now,
            )

        self._step(act)

    @rule(order_id=orders)
    def refund(self, order_id: int) -> None:
        def act(session: Session) -> None:
            order = self._order(session, order_id)
            ordering.refund_deposit(session=session, provider=PROVIDER, order=order, actor="t", now=self.now)

        self._step(act)

    @rule(order_id=orders, steps=st.integers(min_value=1, max_value=5))
    def production_moves_on(self, order_id: int, steps: int) -> None:
        """A locked order moves ``steps`` stages towards the delivery centre (the VIN when built)."""

        def act(session: Session) -> None:
            order = self._order(session, order_id)
            journey = rules.ACTIVE_AFTER_LOCK
            if order.status not in journey:
                return
            at = journey.index(order.status)
            for target in journey[at + 1 : at + 1 + steps]:
                extra = {"vin": VIN} if target is OrderStatus.BUILT else {}
                ordering.advance(session=session, order=order, target=target, actor="t", reason="t", **extra)

        self._step(act)

    @rule(order_id=orders)
    def hand_over(self, order_id: int) -> None:
        def act(session: Session) -> None:
            order = self._order(session, order_id)
            staff = Principal(role=Role.STORE_STAFF, staff_id=1, store_id=order.delivery_store_id)
            handover.hand_over(
                session=session,
                principal=staff,
                number=order.number,
                vin=VIN,
                inspection_passed=True,
                documents_signed=True,
                provider=PROVIDER,
            )

        self._step(act)

    @rule(hours=st.integers(min_value=1, max_value=200))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        self._step(lambda session: ordering.auto_lock_due(session=session, now=self.now))

    @invariant()
    def every_order_loses_at_most_its_policy(self) -> None:
        with self.factory.begin() as session:
            for order_id in sorted(self.mine):
                order = self._order(session, order_id)
                paid = _sum(session, Payment.amount_fen, Payment.order_id == order_id, succeeded=True)
                refunded = _sum(session, Refund.amount_fen, Refund.order_id == order_id)
                forfeited = _sum(session, Forfeiture.amount_fen, Forfeiture.order_id == order_id)
                kept = ledger.held_for_order(session=session, order_id=order_id)
                assert refunded + forfeited + kept == paid, (order.number, paid, refunded, forfeited, kept)
                assert forfeited <= order.deposit_fen, (order.number, forfeited, order.deposit_fen)
                if order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
                    assert kept == 0, (order.number, order.status, kept)
                if order.status is OrderStatus.DELIVERED:
                    assert kept == order.total_fen, (order.number, kept, order.total_fen)
                if order.status is OrderStatus.REFUNDED:
                    assert forfeited == 0
            # The books check must agree about these orders (earlier examples' orders share the
            # database; a failing one must not make every later example fail, or shrinking cannot work).
            report = ordering.check_ledger(session=session)
            assert not report.unbalanced_entries
            assert not [m for m in report.mismatches if m.order_id in self.mine]
            assert not [b for b in report.policy_breaches if b.order_id in self.mine]


def _sum(session: Session, column, *where, succeeded: bool = False) -> int:  # type: ignore[no-untyped-def]
    query = select(func.coalesce(func.sum(column), 0)).where(*where)
    if succeeded:
        query = query.where(Payment.status == PaymentStatus.SUCCEEDED)
    return int(session.scalar(query) or 0)


def test_no_order_ever_loses_more_than_its_policy(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        network.seed_sample_network(session=session)
    run_state_machine_as_test(
        lambda: MoneyMachine(session_factory),
        settings=settings(
            max_examples=30,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

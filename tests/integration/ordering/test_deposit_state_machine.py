"""Random sequences of reserve / pay / lock / cancel / refund / duplicate notification.

Whatever the order of events, the ledger balances, every order reconciles, and a deposit that was
ever locked is never refunded.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import carloop.models  # noqa: F401 - registers every table
from carloop.accounts import service as accounts
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import utcnow
from carloop.db import Base, make_engine, make_session_factory
from carloop.errors import DomainError
from carloop.ordering import rules
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.payments import ledger
from carloop.payments.models import Payment, PaymentStatus, Refund
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.settings import Settings


class DepositMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    @initialize()
    def open_database(self) -> None:
        self.engine = make_engine(Settings(environment="test", database_url="sqlite:///:memory:"))
        Base.metadata.create_all(self.engine)
        self.session: Session = make_session_factory(self.engine)()
        self.provider = SimulatorProvider(secret="machine")
        self.buyer = accounts.get_or_create_customer(session=self.session, phone="13800138000").id
        self.forms: list[dict[str, str]] = []
        self.ever_locked: set[int] = set()
        self.now = utcnow()

    def teardown(self) -> None:
        if hasattr(self, "session"):
            self.session.close()
            self.engine.dispose()

    def _attempt(self, action: object) -> None:
        try:
            with self.session.begin_nested():
                action()  # type: ignore[operator]
        except DomainError:
            pass

    @rule(target=orders, trim=st.sampled_from(["standard", "pro", "max"]))
    def reserve(self, trim: str) -> int:
        order = ordering.reserve(
            session=self.session,
            customer_id=self.buyer,
            config=ConfigurationIn(model="su7", trim=trim),
            now=self.now,
        )
        return order.id

    @rule(order_id=orders, status=st.sampled_from(list(NotificationStatus)))
    def pay(self, order_id: int, status: NotificationStatus) -> None:
        order = self.session.get(Order, order_id)
        assert order is not None

        def act() -> None:
            payment = ordering.start_deposit_payment(
                session=self.session, provider=self.provider, order=order, base_url="http://t/"
            )
            form = self.provider.signed_notification(
                trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=status
            )
            self.forms.append(form)
            ordering.handle_notification(session=self.session, provider=self.provider, form=form)

        self._attempt(act)

    @rule(data=st.data())
    def replay_a_notification(self, data: st.DataObject) -> None:
        if self.forms:
            form = data.draw(st.sampled_from(self.forms))
            self._attempt(
                lambda: ordering.handle_notification(session=self.session, provider=self.provider, form=form)
            )

    @rule(order_id=orders)
    def lock(self, order_id: int) -> None:
        order = self.session.get(Order, order_id)
        assert order is not None
        confirmation = rules.LockConfirmation(True, order.deposit_fen, ordering.configuration_summary(order))
        self._attempt(
            lambda: ordering.lock(
                session=self.session, order=order, confirmation=confirmation, actor="t", now=self.now
            )
        )

    @rule(order_id=orders)
    def refund(self, order_id: int) -> None:
        order = self.session.get(Order, order_id)
        assert order is not None
        self._attempt(
            lambda: ordering.refund_deposit(
                session=self.session, provider=self.provider, order=order, actor="t", now=self.now
            )
        )

    @rule(order_id=orders, accept=st.booleans())
    def cancel(self, order_id: int, accept: bool) -> None:
        order = self.session.get(Order, order_id)
        assert order is not None
        self._attempt(
            lambda: ordering.cancel(
                session=self.session,
                provider=self.provider,
                order=order,
                actor="t",
                accept_forfeit=accept,
                now=self.now,
            )
        )

    @rule(hours=st.integers(min_value=1, max_value=200))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        ordering.auto_lock_due(session=self.session, now=self.now)

    @invariant()
    def remember_locked_orders(self) -> None:
        if hasattr(self, "session"):
            for order in self.session.scalars(select(Order).where(Order.locked_at.is_not(None))):
                self.ever_locked.add(order.id)

    @invariant()
    def ledger_balances(self) -> None:
        if hasattr(self, "session"):
            report = ledger.check(session=self.session)
            assert report.ok, (report.unbalanced_entries, report.mismatches)

    @invariant()
    def a_locked_deposit_is_never_refunded(self) -> None:
        if not hasattr(self, "session"):
            return
        for order_id in self.ever_locked:
            order = self.session.get(Order, order_id)
            assert order is not None and order.status is not OrderStatus.REFUNDED
            paid = self.session.scalar(
                select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
                    Payment.order_id == order_id, Payment.status == PaymentStatus.SUCCEEDED
                )
            )
            refunded = self.session.scalar(
                select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(Refund.order_id == order_id)
            )
            # Only extra (late or duplicate) payments may go back; the deposit itself stays.
            assert paid - refunded >= order.deposit_fen


TestDepositMachine = DepositMachine.TestCase
TestDepositMachine.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

"""Builders for production tests: locked orders and a tiny plan whose weeks fill up fast."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.catalog.schemas import ConfigurationIn
from carloop.handlers import all_handlers
from carloop.ordering import rules as order_rules
from carloop.ordering import service as ordering
from carloop.outbox.service import dispatch
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.production import service
from carloop.production.schemas import PlanData


def tiny_plan(*, weekly: int = 1, outages: list[dict[str, object]] | None = None) -> PlanData:
    """One line building ``weekly`` SU7s a week, no caps, nothing frozen."""
    return PlanData.model_validate(
        {
            "plant": "Test plant",
            "plant_code": "T",
            "wmi": "LT1",
            "frozen_weeks": 0,
            "lines": [{"code": "l1", "name": "Line 1", "models": ["su7"], "weekly_capacity": weekly}],
            "outages": outages or [],
        }
    )


def use_plan(factory: sessionmaker[Session], plan: PlanData, reason: str = "test plan") -> None:
    """Put a plan in force."""
    with factory.begin() as session:
        service.save_plan(session=session, plan=plan, reason=reason, actor="test")


def locked_order(
    factory: sessionmaker[Session],
    phone: str = "13800138000",
    trim: str = "pro",
    options: list[str] | None = None,
) -> str:
    """A paid and locked order; returns its number."""
    provider = SimulatorProvider(secret="s")
    with factory.begin() as session:
        buyer = accounts.get_or_create_customer(session=session, phone=phone)
        order = ordering.reserve(
            session=session,
            customer_id=buyer.id,
            config=ConfigurationIn(model="su7", trim=trim, options=options or []),
        )
        payment = ordering.start_deposit_payment(
            session=session, provider=provider, order=order, base_url="http://t/"
        )
        form = provider.signed_notification(
            trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
        )
        ordering.handle_notification(session=session, provider=provider, form=form)
        confirmation = order_rules.LockConfirmation(
            True, order.deposit_fen, ordering.configuration_summary(order)
        )
        ordering.lock(session=session, order=order, confirmation=confirmation, actor="t")
        return order.number


def run_events(factory: sessionmaker[Session]) -> int:
    """Hand every pending outbox event to every domain's handlers (production's included)."""
    handled = 0
    while True:
        n = dispatch(factory, all_handlers())
        handled += n
        if not n:
            return handled


def cancel(factory: sessionmaker[Session], number: str) -> None:
    """Cancel a locked order, forfeiting its deposit."""
    with factory.begin() as session:
        order = ordering.load(session=session, number=number, for_update=True)
        ordering.cancel(
            session=session,
            provider=SimulatorProvider(secret="s"),
            order=order,
            actor="t",
            accept_forfeit=True,
        )


def this_week() -> date:
    """Today's business day."""
    return service.today()

"""Demo data: accounts, and orders in every deposit state, made through the real use cases."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.accounts.demo import seed_demo_accounts
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import utcnow
from carloop.ordering import rules
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.settings import Settings

DEMO_BASE_URL = "http://127.0.0.1:8000/"
SECOND_BUYER = "13900139000"


def _paid_order(
    session: Session, provider: SimulatorProvider, customer_id: int, config: ConfigurationIn
) -> Order:
    order = ordering.reserve(session=session, customer_id=customer_id, config=config)
    payment = ordering.start_deposit_payment(
        session=session, provider=provider, order=order, base_url=DEMO_BASE_URL
    )
    form = provider.signed_notification(
        trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
    )
    ordering.handle_notification(session=session, provider=provider, form=form)
    return order


def seed(factory: sessionmaker[Session], settings: Settings, console: Console) -> list[tuple[str, str, str]]:
    """Load demo accounts and activity once; returns (who, sign in with, secret) rows to print."""
    provider = SimulatorProvider.from_settings(settings)
    with factory.begin() as session:
        logins = seed_demo_accounts(session=session)
        buyer = accounts.get_or_create_customer(session=session, phone="13800138000")
        other = accounts.get_or_create_customer(session=session, phone=SECOND_BUYER)
        if session.scalar(select(Order.id).limit(1)) is None:
            console.print("seeding demo orders through the simulator...")
            _paid_order(session, provider, buyer.id, ConfigurationIn(model="su7", trim="pro"))
            locked = _paid_order(session, provider, buyer.id, ConfigurationIn(model="yu7", trim="max"))
            ordering.lock(
                session=session,
                order=locked,
                confirmation=rules.LockConfirmation(
                    True, locked.deposit_fen, ordering.configuration_summary(locked)
                ),
                actor=f"customer:{buyer.id}",
            )
            refunded = _paid_order(session, provider, other.id, ConfigurationIn(model="su7", trim="standard"))
            ordering.refund_deposit(
                session=session, provider=provider, order=refunded, actor=f"customer:{other.id}"
            )
            forfeited = _paid_order(session, provider, other.id, ConfigurationIn(model="yu7", trim="pro"))
            ordering.settle_if_due(
                session=session, order=forfeited, now=utcnow() + timedelta(hours=forfeited.refundable_hours)
            )
            ordering.cancel(
                session=session,
                provider=provider,
                order=forfeited,
                actor=f"customer:{other.id}",
                accept_forfeit=True,
            )
            ordering.reserve(
                session=session, customer_id=other.id, config=ConfigurationIn(model="su7", trim="max")
            )
    rows = [(login.who, login.username, login.secret) for login in logins]
    rows.append(("second demo buyer", SECOND_BUYER, "one-time code shown on the sign-in page"))
    return rows

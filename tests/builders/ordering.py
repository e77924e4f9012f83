"""Builders for ordering: a paid and locked order, and one moved all the way to delivery."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from carloop.catalog.schemas import ConfigurationIn
from carloop.ordering import rules as order_rules
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider

STAGES = (
    OrderStatus.SCHEDULED,
    OrderStatus.IN_PRODUCTION,
    OrderStatus.BUILT,
    OrderStatus.IN_TRANSIT,
    OrderStatus.AT_DELIVERY_CENTRE,
    OrderStatus.DELIVERED,
)


def locked_order(factory: sessionmaker[Session], customer_id: int) -> int:
    """A paid and locked order of ``customer_id``; returns its id."""
    provider = SimulatorProvider(secret="s")
    with factory.begin() as session:
        order = ordering.reserve(
            session=session, customer_id=customer_id, config=ConfigurationIn(model="su7", trim="pro")
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
        return order.id


def deliver(factory: sessionmaker[Session], order_id: int) -> None:
    """Move a locked order through production to delivery."""
    with factory.begin() as session:
        order = session.get(Order, order_id)
        assert order is not None
        for stage in STAGES:
            extra = {"vin": "LTEST000000000001"} if stage is OrderStatus.DELIVERED else {}
            ordering.advance(
                session=session, order=order, target=stage, actor="staff:1", reason="test", **extra
            )

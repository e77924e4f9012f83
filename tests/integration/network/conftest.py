"""Builders for network tests: the sample network, buyers, staff principals, and orders at a centre."""

from __future__ import annotations

from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Principal, Role
from carloop.catalog.schemas import ConfigurationIn
from carloop.network import service as network
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider

PROVIDER = SimulatorProvider(secret="test-secret")
VIN = "LSJA24U69PS000001"
JOURNEY = (
    OrderStatus.LOCKED,
    OrderStatus.SCHEDULED,
    OrderStatus.IN_PRODUCTION,
    OrderStatus.BUILT,
    OrderStatus.IN_TRANSIT,
    OrderStatus.AT_DELIVERY_CENTRE,
)


def seed(session: Session) -> None:
    """The whole sample network."""
    network.seed_sample_network(session=session)


def buyer(session: Session, phone: str = "13800138000") -> Principal:
    """A customer principal."""
    customer = accounts.get_or_create_customer(session=session, phone=phone)
    return Principal(role=Role.CUSTOMER, customer_id=customer.id)


def staff_of(session: Session, code: str, staff_id: int = 1) -> Principal:
    """A store-staff principal bound to the outlet with this code."""
    store = network.get_store_by_code(session=session, code=code)
    return Principal(role=Role.STORE_STAFF, staff_id=staff_id, store_id=store.id)


def paid_order(session: Session, customer_id: int) -> Order:
    """A reserved order with its deposit paid through the simulator."""
    order = ordering.reserve(
        session=session, customer_id=customer_id, config=ConfigurationIn(model="su7", trim="pro")
    )
    payment = ordering.start_deposit_payment(
        session=session, provider=PROVIDER, order=order, base_url="http://t/"
    )
    form = PROVIDER.signed_notification(
        trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
    )
    ordering.handle_notification(session=session, provider=PROVIDER, form=form)
    return order


def advance_to(session: Session, order: Order, target: OrderStatus, vin: str = VIN) -> Order:
    """Move an order along the journey up to ``target`` (the VIN is given when it is built)."""
    for status in JOURNEY[: JOURNEY.index(target) + 1]:
        extra = {"vin": vin} if status is OrderStatus.BUILT else {}
        ordering.advance(session=session, order=order, target=status, actor="test", reason="test", **extra)
    return order

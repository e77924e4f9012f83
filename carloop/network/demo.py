"""Demo seeding for the network: the sample outlets, and a demo car waiting at the Beijing centre."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from carloop.appointments import service as appointments
from carloop.appointments.schemas import AppointmentKind
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import utcnow
from carloop.network import service as network
from carloop.network.schemas import StoreService
from carloop.ordering import service as ordering
from carloop.ordering.rules import OrderStatus
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider

DEMO_VIN = "LDEMO7SU700000001"
JOURNEY = (
    OrderStatus.LOCKED,
    OrderStatus.SCHEDULED,
    OrderStatus.IN_PRODUCTION,
    OrderStatus.BUILT,
    OrderStatus.IN_TRANSIT,
    OrderStatus.AT_DELIVERY_CENTRE,
)


def seed_demo(*, session: Session, provider: SimulatorProvider, customer_id: int) -> str | None:
    """Seed the sample network and, once, an order of ``customer_id`` whose car is at BJ-DC-01 with a test
    drive booked; returns that order's number (None when it was seeded before)."""
    network.seed_sample_network(session=session)
    if any(o.delivery_store_id for o in ordering.list_for_customer(session=session, customer_id=customer_id)):
        return None
    order = ordering.reserve(
        session=session, customer_id=customer_id, config=ConfigurationIn(model="su7", trim="max")
    )
    payment = ordering.start_deposit_payment(
        session=session, provider=provider, order=order, base_url="http://127.0.0.1:8000/"
    )
    form = provider.signed_notification(
        trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
    )
    ordering.handle_notification(session=session, provider=provider, form=form)
    network.assign_delivery_centre(session=session, order=order, city="Beijing", actor="system")
    for status in JOURNEY:
        extra = {"vin": DEMO_VIN} if status is OrderStatus.BUILT else {}
        ordering.advance(session=session, order=order, target=status, actor="system", reason="demo", **extra)
    store = network.find_stores(
        session=session, city="Beijing", service=StoreService.TEST_DRIVE, model="yu7", limit=1
    )[0].store
    day = (utcnow() + timedelta(days=1)).date()
    free = appointments.available_slots(
        session=session, store_code=store.code, kind=AppointmentKind.TEST_DRIVE, day=day, model="yu7"
    )
    start = next(s for s, _, n in free if n > 0)
    appointments.book(
        session=session,
        customer_id=customer_id,
        kind=AppointmentKind.TEST_DRIVE,
        store_code=store.code,
        starts_at=start,
        model="yu7",
    )
    return order.number

"""Built cars whose order was cancelled: offered to the earliest waiting order of the same configuration.

The buyer has 72 hours to inspect and accept; then the offer moves on to the next waiting order, and
a car nobody with its configuration is waiting for is sold as an inventory car.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.clock import as_utc, utcnow
from carloop.errors import Conflict, NotFound
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.production import service, triggers
from carloop.production.models import CarStatus, InventoryCar, Slot

OFFER_HOURS = 72


def take_in(*, session: Session, slot: Slot, now: datetime | None = None) -> InventoryCar:
    """A built car whose order was cancelled joins the inventory and is offered on."""
    vin, slot.vin = slot.vin or "", None  # the VIN now belongs to the inventory car (it is unique)
    session.flush()
    car = InventoryCar(
        vin=vin,
        model=slot.model,
        trim=slot.trim,
        options=list(slot.options),
        configuration=slot.configuration,
        from_order_id=slot.order_id,
        status=CarStatus.AVAILABLE,
        offered_to=[],
    )
    session.add(car)
    session.flush()
    offer_next(session=session, car=car, now=now)
    return car


def offer_next(*, session: Session, car: InventoryCar, now: datetime | None = None) -> InventoryCar:
    """Offer the car to the earliest-locked waiting order of its configuration not offered it before."""
    now = now or utcnow()
    query = (
        select(Slot)
        .where(
            Slot.active.is_(True),
            Slot.built.is_(False),
            Slot.configuration == car.configuration,
            Slot.order_id.not_in(car.offered_to or [-1]),
        )
        .order_by(Slot.queued_at, Slot.order_id)
        .limit(1)
    )
    slot = session.scalar(query)
    if slot is None:
        car.status, car.offered_order_id, car.offer_expires_at = CarStatus.AVAILABLE, None, None
        return car
    car.status = CarStatus.OFFERED
    car.offered_order_id = slot.order_id
    car.offer_expires_at = now + timedelta(hours=OFFER_HOURS)
    car.offered_to = [*(car.offered_to or []), slot.order_id]
    service.notify(
        session,
        slot,
        "car_offered",
        (
            f"A built car with your configuration is ready (VIN {car.vin}). Inspect and accept it "
            f"before {car.offer_expires_at:%Y-%m-%d %H:%M} UTC to take it instead of waiting.",
            f"已有一台与您配置相同的现车（车架号 {car.vin}）。"
            f"请在 {car.offer_expires_at:%Y-%m-%d %H:%M}（UTC）前验车并确认，即可直接提车。",
        ),
    )
    return car


def accept(*, session: Session, car_id: int, order: Order, actor: str, now: datetime | None = None) -> Order:
    """The buyer takes the offered car: the order gets its VIN and its build slot goes to the next order."""
    now = now or utcnow()
    car = session.get(InventoryCar, car_id, with_for_update=True)
    if car is None or car.offered_order_id != order.id:
        raise NotFound("No such car offer.")
    if car.status is not CarStatus.OFFERED or car.offer_expires_at is None or now >= car.offer_expires_at:
        raise Conflict("The offer has ended.")
    slot = service.slot_for(session=session, order_id=order.id)
    assert slot is not None  # offers go to orders in the plan
    slot.vin, slot.built, slot.planned_week = car.vin, True, None
    car.status, car.offer_expires_at = CarStatus.SOLD, None
    for target in (OrderStatus.SCHEDULED, OrderStatus.IN_PRODUCTION, OrderStatus.BUILT):
        ordering.advance(
            session=session,
            order=order,
            target=target,
            actor=actor,
            reason="took a car from inventory",
            vin=car.vin,
        )
    service.replan(session=session, trigger=triggers.inventory_car_taken(order.number, car.vin), now=now)
    return order


def expire_offers(*, session: Session, now: datetime | None = None) -> int:
    """Move every offer past its 72 hours on to the next waiting order; returns how many moved."""
    now = now or utcnow()
    due = session.scalars(
        select(InventoryCar).where(
            InventoryCar.status == CarStatus.OFFERED, InventoryCar.offer_expires_at <= now
        )
    ).all()
    for car in due:
        offer_next(session=session, car=car, now=now)
    return len(due)


def next_offer_expiry(*, session: Session) -> datetime | None:
    """When the next open offer runs out (None if no car is on offer)."""
    due = session.scalar(
        select(func.min(InventoryCar.offer_expires_at)).where(InventoryCar.status == CarStatus.OFFERED)
    )
    return None if due is None else as_utc(due)


def stock(*, session: Session) -> list[InventoryCar]:
    """Every inventory car, newest first."""
    return list(session.scalars(select(InventoryCar).order_by(InventoryCar.id.desc())))


def offer_for(*, session: Session, order_id: int) -> InventoryCar | None:
    """The car on offer to an order now, if any."""
    return session.scalar(
        select(InventoryCar).where(
            InventoryCar.offered_order_id == order_id, InventoryCar.status == CarStatus.OFFERED
        )
    )

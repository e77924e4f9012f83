"""A built car whose order is cancelled is offered to the earliest waiting order of its configuration."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.clock import utcnow
from carloop.errors import Conflict
from carloop.notices.models import Notice
from carloop.ordering import service as ordering
from carloop.ordering.rules import OrderStatus
from carloop.production import inventory, rules, service
from carloop.production.models import CarStatus, InventoryCar, Slot

from .conftest import cancel, locked_order, run_events, tiny_plan, use_plan


def _build(factory: sessionmaker[Session], number: str) -> str:
    with factory.begin() as session:
        for stage in (rules.Stage.IN_PRODUCTION, rules.Stage.BUILT):
            service.advance_stage(session=session, number=number, stage=stage, actor="staff:1")
        slot = session.scalar(select(Slot).where(Slot.number == number))
        assert slot is not None and slot.vin is not None
        return slot.vin


def test_the_car_goes_to_the_earliest_waiting_order_who_has_72_hours_to_accept(
    session_factory: sessionmaker[Session],
) -> None:
    use_plan(session_factory, tiny_plan(weekly=1))
    first, second, third = (locked_order(session_factory, phone=f"1380013800{i}") for i in range(3))
    run_events(session_factory)
    vin = _build(session_factory, first)
    cancel(session_factory, first)
    run_events(session_factory)
    with session_factory.begin() as session:
        car = session.scalars(select(InventoryCar)).one()
        waiting = ordering.load(session=session, number=second)
        assert car.vin == vin and car.status is CarStatus.OFFERED and car.offered_order_id == waiting.id
        assert car.offer_expires_at is not None
        assert car.offer_expires_at - utcnow() <= timedelta(hours=72)
        kinds = [n.kind for n in session.scalars(select(Notice).where(Notice.order_id == waiting.id))]
        assert "car_offered" in kinds
        # Nobody answers within 72 hours: the offer moves on to the next waiting order.
        assert inventory.expire_offers(session=session, now=utcnow() + timedelta(hours=73)) == 1
        nxt = ordering.load(session=session, number=third)
        assert car.offered_order_id == nxt.id
        with pytest.raises(Conflict):
            inventory.accept(
                session=session, car_id=car.id, order=nxt, actor="c", now=utcnow() + timedelta(hours=200)
            )
        inventory.accept(
            session=session, car_id=car.id, order=nxt, actor="c", now=utcnow() + timedelta(hours=74)
        )
        assert nxt.status is OrderStatus.BUILT and car.status is CarStatus.SOLD
        slot = service.slot_for(session=session, order_id=nxt.id)
        assert slot is not None and slot.vin == vin and slot.built


def test_a_car_nobody_waits_for_is_sold_from_stock(session_factory: sessionmaker[Session]) -> None:
    use_plan(session_factory, tiny_plan(weekly=1))
    only = locked_order(session_factory)
    run_events(session_factory)
    _build(session_factory, only)
    cancel(session_factory, only)
    run_events(session_factory)
    with session_factory() as session:
        car = session.scalars(select(InventoryCar)).one()
        assert car.status is CarStatus.AVAILABLE and car.offered_order_id is None

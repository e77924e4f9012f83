"""Demo seeding for production: the sample plan, and every locked demo order given a build week."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.production import service


def seed_demo(*, session: Session, now: datetime | None = None) -> int:
    """Put the sample plan in force and queue the locked orders not yet planned; returns how many."""
    service.current_plan(session=session, now=now)
    numbers = session.scalars(
        select(Order.number)
        .where(Order.status.in_([OrderStatus.LOCKED, OrderStatus.SCHEDULED]))
        .order_by(Order.id)
    ).all()
    queued = 0
    for number in numbers:
        if service.enqueue(session=session, number=number, now=now) is not None:
            queued += 1
    return queued

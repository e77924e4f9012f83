"""Demo seeding for production: the sample plan saved as HQ's first plan, and every locked demo
order given a build week."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.production import rules, service


def seed_demo(*, session: Session, now: datetime | None = None) -> int:
    """Save the sample plan as the plan in force (once), queue the locked orders; returns how many."""
    if service.plan_in_force(session=session) is None:  # HQ's first plan, as HQ would save it
        plan = rules.sample_plan(service.today(now))
        service.save_plan(session=session, plan=plan, reason="演示计划", actor="demo", now=now)
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

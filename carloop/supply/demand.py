"""Part demand per supplier: firm from the production plan, likely from reserved orders and the conversion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.catalog.parts import Part
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.production import rules as production_rules
from carloop.production import service as production
from carloop.supply import rules
from carloop.supply.models import Confirmation

FORECAST_WEEKS = 8  # weeks of demand a supplier sees


@dataclass(frozen=True, slots=True)
class Conversion:
    """The share of decided reservations that locked, and how many were decided (None: too few)."""

    rate: float | None
    converted: int
    lost: int


@dataclass(frozen=True, slots=True)
class ForecastWeek:
    """One part in one week: demand, what the supplier confirmed, the plan's cap, the deadline."""

    week: int
    monday: date
    firm: int
    likely: float
    confirmed: int | None
    late: bool
    changes: int
    cap: int | None
    deadline: date
    overdue: bool  # not confirmed and the deadline has passed


@dataclass(frozen=True, slots=True)
class PartForecast:
    """A part and its weeks."""

    part: Part
    weeks: list[ForecastWeek]


def conversion(*, session: Session) -> Conversion:
    """The measured conversion of reservations into locked orders, from every decided reservation."""
    converted = session.scalar(select(func.count()).select_from(Order).where(Order.locked_at.is_not(None)))
    lost = session.scalar(
        select(func.count())
        .select_from(Order)
        .where(
            Order.paid_at.is_not(None),
            Order.locked_at.is_(None),
            Order.status.in_([OrderStatus.REFUNDED, OrderStatus.CANCELLED]),
        )
    )
    converted, lost = int(converted or 0), int(lost or 0)
    return Conversion(rules.conversion(converted, lost), converted, lost)


def weekly_demand(
    *, session: Session, parts: list[Part], first_week: int, weeks: int, rate: float | None
) -> list[rules.WeekDemand]:
    """Demand of ``parts`` for ``weeks`` weeks from ``first_week`` (firm and likely)."""
    last = first_week + weeks - 1
    _, plan = production.current_plan(session=session)
    horizon_end = production_rules.week_of(production.today()) + plan.horizon_weeks
    locked = [
        rules.Planned(m, t, tuple(o), w, 1)
        for m, t, o, w in production.planned_cars(
            session=session, first_week=first_week, last_week=horizon_end
        )
    ]
    reserved_rows = session.execute(
        select(Order.model, Order.trim, Order.options).where(Order.status == OrderStatus.RESERVED)
    )
    reserved = [rules.Planned(m, t, tuple(o or []), None, 1) for m, t, o in reserved_rows]
    found = rules.demand(parts, locked, reserved, first_week=first_week, weeks=weeks, rate=rate)
    return [d for d in found if d.week <= last]


def firm_demand(*, session: Session, part: Part, week: int) -> int:
    """The locked cars planned in ``week`` that use ``part``."""
    cars = production.planned_cars(session=session, first_week=week, last_week=week)
    return sum(1 for m, t, o, _ in cars if part.used_by(m, t, o))


def forecast(
    *, session: Session, parts: list[Part], now: datetime | None = None, weeks: int = FORECAST_WEEKS
) -> tuple[list[PartForecast], Conversion]:
    """The demand forecast of ``parts`` for the coming weeks, with confirmations and plan caps."""
    today = production.today(now)
    week0 = production_rules.week_of(today)
    measured = conversion(session=session)
    found = weekly_demand(session=session, parts=parts, first_week=week0, weeks=weeks, rate=measured.rate)
    codes = [p.code for p in parts]
    confirmed = {
        (c.part, c.week): c
        for c in session.scalars(
            select(Confirmation).where(
                Confirmation.part.in_(codes), Confirmation.week >= week0, Confirmation.week < week0 + weeks
            )
        )
    }
    _, plan = production.current_plan(session=session, now=now)
    by_part: dict[str, list[ForecastWeek]] = {p.code: [] for p in parts}
    caps = {p.code: rules.supply_caps(plan, p) for p in parts}
    for d in found:
        c = confirmed.get((d.part, d.week))
        by_part[d.part].append(
            ForecastWeek(
                week=d.week,
                monday=production_rules.week_start(d.week),
                firm=d.firm,
                likely=d.likely,
                confirmed=c.quantity if c else None,
                late=c.late if c else False,
                changes=c.changes if c else 0,
                cap=caps[d.part].get(d.week),
                deadline=rules.deadline(d.week),
                overdue=c is None and rules.is_late(d.week, today),
            )
        )
    return [PartForecast(p, by_part[p.code]) for p in parts], measured

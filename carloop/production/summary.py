"""Read-only aggregates of production for the analytics dashboard: delivery lead time, ETA accuracy
and its calibration (the share kept that was stated with those windows against the share kept).

An order's first promise is the window it was shown when it locked (``Slot.first_earliest`` ..
``first_latest``); it counts as kept when the handover fell inside it (early counts as kept: the buyer
got the car sooner). Days and weeks are China days (Asia/Shanghai); weeks start on Monday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.clock import SHANGHAI, as_utc
from carloop.ordering.models import Order, OrderEvent
from carloop.ordering.rules import OrderStatus
from carloop.production.models import Slot


@dataclass(frozen=True, slots=True)
class Delivered:
    """One handed-over order as the summary sees it."""

    model: str
    locked_on: date | None
    delivered_on: date
    first_earliest: date | None
    first_latest: date | None
    stated: float | None = None  # the share kept stated with the first window (None: none stated)

    @property
    def lead_days(self) -> int | None:
        return (self.delivered_on - self.locked_on).days if self.locked_on is not None else None

    @property
    def kept(self) -> bool | None:
        """Whether the first promised window held (None when the order never had one)."""
        return None if self.first_latest is None else self.delivered_on <= self.first_latest

    @property
    def days_late(self) -> int:
        if self.first_latest is None:
            return 0
        return max(0, (self.delivered_on - self.first_latest).days)


@dataclass(frozen=True, slots=True)
class WeekSummary:
    """Deliveries in one China week: how many, how many on the first promise, and how long they took."""

    week: date  # the Monday
    delivered: int
    promised: int  # of which had a first promise
    kept: int
    late: int
    median_lead_days: float | None
    p90_lead_days: float | None
    stated_share: float | None = None  # mean share kept stated with these windows (calibration)


def _china_day(moment: datetime) -> date:
    return as_utc(moment).astimezone(SHANGHAI).date()


def deliveries(
    *, session: Session, model: str | None = None, date_from: date | None = None, date_to: date | None = None
) -> list[Delivered]:
    """Handed-over orders (optionally of one model, delivered within China days ``date_from..date_to``)."""
    query = (
        select(
            Order.model,
            Order.locked_at,
            OrderEvent.at,
            Slot.first_earliest,
            Slot.first_latest,
            Slot.stated,
        )
        .join(OrderEvent, OrderEvent.order_id == Order.id)
        .outerjoin(Slot, Slot.order_id == Order.id)
        .where(OrderEvent.to_status == str(OrderStatus.DELIVERED))
    )
    if model:
        query = query.where(Order.model == model)
    if date_from is not None:
        start = datetime.combine(date_from, datetime.min.time(), tzinfo=SHANGHAI)
        query = query.where(OrderEvent.at >= start)
    if date_to is not None:
        end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)
        query = query.where(OrderEvent.at < end)
    return [
        Delivered(
            model=row[0],
            locked_on=_china_day(row[1]) if row[1] is not None else None,
            delivered_on=_china_day(row[2]),
            first_earliest=row[3],
            first_latest=row[4],
            stated=row[5],
        )
        for row in session.execute(query)
    ]


def _quantile(values: list[int], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 1)


def weekly(rows: list[Delivered]) -> list[WeekSummary]:
    """Group deliveries by China week (Monday first), oldest first."""
    weeks: dict[date, list[Delivered]] = {}
    for row in rows:
        monday = row.delivered_on - timedelta(days=row.delivered_on.weekday())
        weeks.setdefault(monday, []).append(row)
    out = []
    for monday in sorted(weeks):
        group = weeks[monday]
        promised = [r for r in group if r.kept is not None]
        leads = [d for d in (r.lead_days for r in group) if d is not None]
        said = [r.stated for r in promised if r.stated is not None]
        out.append(
            WeekSummary(
                week=monday,
                delivered=len(group),
                promised=len(promised),
                kept=sum(1 for r in promised if r.kept),
                late=sum(1 for r in promised if not r.kept),
                median_lead_days=_quantile(leads, 0.5),
                p90_lead_days=_quantile(leads, 0.9),
                stated_share=round(sum(said) / len(said), 4) if said else None,
            )
        )
    return out


def delivery_accuracy(
    *, session: Session, model: str | None = None, date_from: date | None = None, date_to: date | None = None
) -> list[WeekSummary]:
    """Per China week: deliveries, kept and broken first promises, median and 90th-percentile lead days."""
    return weekly(deliveries(session=session, model=model, date_from=date_from, date_to=date_to))

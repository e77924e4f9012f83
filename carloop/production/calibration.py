"""Honest confidence: how often carloop's first delivery windows were kept, measured from delivered
orders and stored per kind (model, band of weeks ahead) by a daily job; HQ's calibration by week.

A window's kind is its model and how many weeks ahead of the promise its last day was
(``rules.band``); it was kept when the car was handed over within it. The shares stated next to a
window are read from the stored rates; with fewer than ``rules.MIN_SAMPLE`` deliveries of a kind no
share is stated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carloop.clock import SHANGHAI, utcnow
from carloop.ordering.models import OrderEvent
from carloop.ordering.rules import OrderStatus
from carloop.production import rules
from carloop.production.models import KeptRate, Slot


@dataclass(frozen=True, slots=True)
class Delivered:
    """A delivered order's first window and the day it was handed over."""

    model: str
    promised_on: date
    earliest: date | None
    latest: date | None
    stated: float | None
    delivered_on: date

    def outcome(self) -> rules.Outcome:
        """The window's kind and whether it was kept."""
        ahead = rules.weeks_from(self.latest, self.promised_on, up=True) if self.latest else 99
        return rules.Outcome(self.model, ahead, rules.was_kept(self.earliest, self.latest, self.delivered_on))


def delivered(*, session: Session, since: datetime | None = None) -> list[Delivered]:
    """Every delivered order that was given a window (since ``since``), oldest delivery first."""
    query = (
        select(Slot, OrderEvent.at)
        .join(OrderEvent, OrderEvent.order_id == Slot.order_id)
        .where(OrderEvent.to_status == str(OrderStatus.DELIVERED), Slot.promised_at.is_not(None))
        .order_by(OrderEvent.at)
    )
    if since is not None:
        query = query.where(OrderEvent.at >= since)
    found = []
    for slot, at in session.execute(query):
        assert slot.promised_at is not None
        found.append(
            Delivered(
                model=slot.model,
                promised_on=slot.promised_at.astimezone(SHANGHAI).date(),
                earliest=slot.first_earliest,
                latest=slot.first_latest,
                stated=slot.stated,
                delivered_on=at.astimezone(SHANGHAI).date(),
            )
        )
    return found


def recompute(*, session: Session, now: datetime | None = None) -> rules.KeptRates:
    """Measure the kept share of every kind from all delivered orders and store it (the daily job)."""
    now = now or utcnow()
    measured = rules.kept_rates(d.outcome() for d in delivered(session=session))
    session.execute(delete(KeptRate))
    for (model, kind), kept in measured.items():
        session.add(KeptRate(model=model, band=kind, kept=kept.kept, total=kept.total, computed_at=now))
    session.flush()
    return measured


def rates(*, session: Session) -> rules.KeptRates:
    """The stored kept shares, per model and band (as the last daily run measured them)."""
    rows = session.scalars(select(KeptRate))
    return {(r.model, r.band): rules.Kept(r.kept, r.total) for r in rows}


def computed_at(*, session: Session) -> datetime | None:
    """When the kept shares were last measured (None: never)."""
    return session.scalar(select(KeptRate.computed_at).order_by(KeptRate.computed_at.desc()).limit(1))


@dataclass(frozen=True, slots=True)
class CalibrationWeek:
    """One delivery week: cars delivered, how many within their first window, and the share stated."""

    week_start: date
    delivered: int
    kept: int
    stated: float | None  # the mean share stated with those windows (None: none stated)

    @property
    def kept_share(self) -> float | None:
        """The share of this week's deliveries that were within their first window."""
        return self.kept / self.delivered if self.delivered else None


def calibration(*, session: Session, weeks: int = 26, now: datetime | None = None) -> list[CalibrationWeek]:
    """Promised vs delivered by delivery week, the last ``weeks`` weeks, oldest first (HQ's chart)."""
    now = now or utcnow()
    last = rules.week_of(now.astimezone(SHANGHAI).date())
    first = last - weeks + 1
    since = datetime.combine(rules.week_start(first), datetime.min.time(), SHANGHAI) - timedelta(days=1)
    tally: dict[int, list[float]] = {w: [0, 0, 0.0, 0] for w in range(first, last + 1)}
    for d in delivered(session=session, since=since):
        row = tally.get(rules.week_of(d.delivered_on))
        if row is None:
            continue
        row[0] += 1
        row[1] += int(d.outcome().kept)
        if d.stated is not None:
            row[2] += d.stated
            row[3] += 1
    return [
        CalibrationWeek(rules.week_start(w), int(n), int(k), s / m if m else None)
        for w, (n, k, s, m) in sorted(tally.items())
    ]

"""Honest confidence: how often carloop's first delivery windows were kept, measured from delivered
orders and stored per kind (model, band of weeks ahead) by a daily job. HQ's calibration by week
(stated against kept) is in ``summary.py``, shown on the analytics dashboard.

A window's kind is its model and how many weeks ahead of the promise its last day was
(``rules.band``); it was kept when the car was handed over by its last day. The shares stated next to a
window are read from the stored rates; with fewer than ``rules.MIN_SAMPLE`` deliveries of a kind no
share is stated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

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
        return rules.Outcome(self.model, ahead, rules.was_kept(self.latest, self.delivered_on))


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

"""Read-only aggregates of the points ledger for the analytics dashboard: the points economy over time.

Per China day (Asia/Shanghai): points issued (earned, including compensation), redeemed (spent, less
what shop refunds gave back), expired, and the points outstanding at the end of the day (everything
ever issued less everything redeemed and expired). Reads ``points_entries`` only; writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from carloop.clock import SHANGHAI
from carloop.loyalty.models import PointsEntry


@dataclass(frozen=True, slots=True)
class EconomyDay:
    """One China day of the points economy (all in points)."""

    day: date
    issued: int
    redeemed: int
    expired: int
    outstanding: int  # at the end of the day


def _china_day_sql(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.date(PointsEntry.created_at.op("AT TIME ZONE")(literal_column("'Asia/Shanghai'")))
    return func.date(PointsEntry.created_at, "+8 hours")  # SQLite keeps UTC text; China has no DST


def _start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI)


def daily(
    *, session: Session, date_from: date | None = None, date_to: date | None = None
) -> list[EconomyDay]:
    """The points economy per China day within ``date_from..date_to`` (both inclusive), oldest first."""
    day = _china_day_sql(session).label("day")
    query = select(day, PointsEntry.kind, func.sum(PointsEntry.points)).group_by(day, PointsEntry.kind)
    if date_from is not None:
        query = query.where(PointsEntry.created_at >= _start(date_from))
    if date_to is not None:
        query = query.where(PointsEntry.created_at < _start(date_to + timedelta(days=1)))
    opening = 0
    if date_from is not None:
        before = select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.created_at < _start(date_from)
        )
        opening = int(session.scalar(before) or 0)
    sums: dict[date, dict[str, int]] = {}
    for raw_day, kind, points in session.execute(query):
        key = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day))
        sums.setdefault(key, {})[str(kind)] = int(points or 0)
    out = []
    outstanding = opening
    for key in sorted(sums):
        kinds = sums[key]
        issued = kinds.get("earn", 0)
        redeemed = -kinds.get("spend", 0) - kinds.get("refund", 0)
        expired = -kinds.get("expire", 0)
        outstanding += sum(kinds.values())
        out.append(EconomyDay(key, issued, redeemed, expired, outstanding))
    return out

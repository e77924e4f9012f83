"""Recorded drives: the owner's car states kept with consent, per-owner retention, replayed in dry runs.

Only states of cars whose owner turned recording on are kept (``preferences.set_drive_recording``);
withdrawing consent deletes them, the owner can delete any day, and ``purge_expired`` removes
what is older than the owner's retention. A day of samples is what ``dryrun.dry_run`` replays.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carloop.ecosystem.models import Device, DeviceKind, DriveSample, OwnerSettings

SAMPLE_KEYS = (
    *("ts", "latitude", "longitude", "accuracy", "speed", "battery", "range_km", "charging"),
    *("locked", "doors_open", "cabin_temp", "climate", "target_temp", "destination"),
)


def record(*, session: Session, samples: Mapping[int, tuple[int, datetime, Mapping[str, Any]]]) -> int:
    """Keep states (device id -> (owner id, when, state)); the caller checked consent. Rows added."""
    for device_id, (owner_id, at, state) in samples.items():
        kept = {k: state[k] for k in SAMPLE_KEYS if k in state}
        if kept:
            session.add(DriveSample(device_id=device_id, customer_id=owner_id, at=at, state=kept))
    session.flush()
    return len(samples)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start, start + timedelta(days=1)


def days(*, session: Session, customer_id: int, timezone: str = "Asia/Shanghai") -> list[tuple[date, int]]:
    """The days (local) with recorded states, newest first, with how many samples each holds."""
    tz = ZoneInfo(timezone)
    counts: dict[date, int] = {}
    for at in session.scalars(select(DriveSample.at).where(DriveSample.customer_id == customer_id)):
        local = at.astimezone(tz).date()
        counts[local] = counts.get(local, 0) + 1
    return sorted(counts.items(), reverse=True)


def recording(
    *, session: Session, customer_id: int, day: date, timezone: str = "Asia/Shanghai"
) -> list[dict[str, Any]]:
    """One local day of the owner's recorded car states, as dry-run samples ``{t, entity_id, state}``."""
    start, end = _day_bounds(day, ZoneInfo(timezone))
    rows = session.execute(
        select(DriveSample, Device.kind)
        .join(Device, Device.id == DriveSample.device_id)
        .where(
            DriveSample.customer_id == customer_id,
            DriveSample.at >= _utc(start),
            DriveSample.at < _utc(end),
        )
        .order_by(DriveSample.at, DriveSample.id)
    )
    return [
        {"t": s.at.timestamp(), "entity_id": f"{kind.value}.{s.device_id}", "state": dict(s.state)}
        for s, kind in rows
    ]


def delete_drives(
    *, session: Session, customer_id: int, day: date | None = None, timezone: str = "Asia/Shanghai"
) -> int:
    """Delete the owner's recorded drives: one local day, or all of them. Rows deleted."""
    query = delete(DriveSample).where(DriveSample.customer_id == customer_id)
    if day is not None:
        start, end = _day_bounds(day, ZoneInfo(timezone))
        query = query.where(DriveSample.at >= _utc(start), DriveSample.at < _utc(end))
    result = session.execute(query)
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def purge_expired(*, session: Session, now: datetime) -> int:
    """Delete every sample older than its owner's retention (and any without consent). Rows deleted."""
    deleted = 0
    owners = session.scalars(select(DriveSample.customer_id).distinct()).all()
    settings = {
        s.customer_id: s
        for s in session.scalars(select(OwnerSettings).where(OwnerSettings.customer_id.in_(owners)))
    }
    for owner_id in owners:
        kept = settings.get(owner_id)
        if kept is None or not kept.record_drives:
            deleted += delete_drives(session=session, customer_id=owner_id)
            continue
        cutoff = now.astimezone(UTC) - timedelta(days=kept.drive_retention_days)
        result = session.execute(
            delete(DriveSample).where(DriveSample.customer_id == owner_id, DriveSample.at < cutoff)
        )
        deleted += int(result.rowcount or 0)  # type: ignore[attr-defined]
    session.flush()
    return deleted


def recorded_vehicles(*, session: Session) -> dict[str, tuple[int, int]]:
    """Entity id -> (device id, owner id) of every paired car whose owner consented to recording."""
    rows = session.execute(
        select(Device.id, Device.customer_id)
        .join(OwnerSettings, OwnerSettings.customer_id == Device.customer_id)
        .where(OwnerSettings.record_drives.is_(True), Device.kind == DeviceKind.VEHICLE)
    )
    return {f"vehicle.{device_id}": (device_id, owner_id) for device_id, owner_id in rows}

"""Ecosystem use cases around running scenes: traces, runs waiting for a delay, the location audit, and
the engine built from the database for the bridge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carloop.audit import service as audit
from carloop.ecosystem.engine import Engine, Trace
from carloop.ecosystem.models import (
    Home,
    PendingRun,
    Scene,
    SceneTrace,
)
from carloop.ecosystem.scenes import enabled_scenes, get_scene
from carloop.ecosystem.schemas import (
    DestinationAction,
    SceneDefinition,
)
from carloop.ecosystem.service import paired_devices, zones_for

TRACES_KEPT = 20


def _dt(at: float | None) -> datetime | None:
    return None if at is None else datetime.fromtimestamp(at, UTC)


def save_traces(*, session: Session, traces: Iterable[Trace], dry_run: bool = False) -> int:
    """Store finished runs, keep the last ``TRACES_KEPT`` per scene; audit runs that read a location."""
    touched: set[int] = set()
    stored = 0
    for trace in traces:
        scene = session.get(Scene, trace.scene_id)
        if scene is None:
            continue
        session.add(
            SceneTrace(
                scene_id=trace.scene_id,
                run_id=trace.run_id,
                started_at=_dt(trace.started_at),
                finished_at=_dt(trace.finished_at),
                outcome=trace.outcome,
                trigger=trace.trigger,
                steps=trace.steps,
                dry_run=dry_run,
            )
        )
        stored += 1
        touched.add(trace.scene_id)
        if not dry_run and trace.trigger.get("platform") in ("zone", "proximity"):
            audit.record(
                session=session,
                principal=None,
                action="location.read",
                target_type="device",
                target_id=str(trace.trigger.get("entity_id")),
                detail={
                    "viewer": f"scene:{scene.id}",
                    "owner": scene.customer_id,
                    "precision": scene.precision.value,
                },
            )
    session.flush()
    for scene_id in touched:
        keep = select(SceneTrace.id).where(SceneTrace.scene_id == scene_id).order_by(SceneTrace.id.desc())
        ids = list(session.scalars(keep.offset(TRACES_KEPT)))
        if ids:
            session.execute(delete(SceneTrace).where(SceneTrace.id.in_(ids)))
    session.flush()
    return stored


LOCATION_ACTIONS = ("location.read", "location.shared", "location.revoked", "location.granted")


def location_log(*, session: Session, customer_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """Who saw the owner's locations, and at what precision (newest first), from the audit log."""
    rows = []
    for action in LOCATION_ACTIONS:
        for entry in audit.list_entries(session=session, action=action, limit=500):
            owner = entry.detail.get("owner", entry.detail.get("customer_id"))
            if owner == customer_id:
                rows.append(
                    {
                        "at": entry.at,
                        "action": entry.action,
                        "viewer": entry.detail.get("viewer", f"{entry.target_type}:{entry.target_id}"),
                        "precision": entry.detail.get("precision", ""),
                        "target": f"{entry.target_type}:{entry.target_id}",
                    }
                )
    return sorted(rows, key=lambda r: r["at"], reverse=True)[:limit]


def list_traces(*, session: Session, customer_id: int, scene_id: int) -> list[SceneTrace]:
    """A scene's last runs, newest first."""
    scene = get_scene(session=session, customer_id=customer_id, scene_id=scene_id)
    query = select(SceneTrace).where(SceneTrace.scene_id == scene.id).order_by(SceneTrace.id.desc())
    return list(session.scalars(query.limit(TRACES_KEPT)))


def save_pending(*, session: Session, changes: Mapping[str, dict[str, Any] | None]) -> None:
    """Persist runs waiting on a delay or trigger (None: the run ended and its row goes)."""
    for run_id, continuation in changes.items():
        row = session.scalars(select(PendingRun).where(PendingRun.run_id == run_id)).first()
        if continuation is None:
            if row is not None:
                session.delete(row)
            continue
        if session.get(Scene, int(continuation["scene_id"])) is None:
            continue
        resume = _dt(continuation.get("resume_at"))
        if row is None:
            session.add(
                PendingRun(
                    scene_id=int(continuation["scene_id"]),
                    run_id=run_id,
                    resume_at=resume,
                    continuation=continuation,
                )
            )
        else:
            row.resume_at, row.continuation = resume, continuation
    session.flush()


def pending_runs(*, session: Session) -> list[dict[str, Any]]:
    """Continuations of every waiting run, oldest first."""
    return [dict(r.continuation) for r in session.scalars(select(PendingRun).order_by(PendingRun.id))]


def build_engine(*, session: Session, timezone: str = "Asia/Shanghai") -> Engine:
    """An engine with every owner's zones, paired devices, enabled scenes and waiting runs restored."""
    engine = Engine(timezone=timezone)
    owners: dict[int, list[Home]] = {}
    for home in session.scalars(select(Home).order_by(Home.id)):
        owners.setdefault(home.customer_id, []).append(home)
    for owner_id, homes in owners.items():
        engine.set_zones(owner_id, zones_for(homes))
    for device in paired_devices(session=session):
        engine.set_entity(device.entity_id, device.customer_id, device.state)
    for scene in enabled_scenes(session=session):
        definition = SceneDefinition.model_validate(scene.definition)
        engine.load(scene.id, scene.customer_id, definition, location=not scene.location_revoked)
    for continuation in pending_runs(session=session):
        engine.restore(continuation)
    return engine


def destination_action(vehicle: str, *, latitude: float, longitude: float, name: str) -> DestinationAction:
    """The action that sends a destination to a car (the phone page uses it outside scenes)."""
    return DestinationAction.model_validate(
        {
            "action": "carloop.send_destination",
            "target": {"entity_id": vehicle},
            "data": {"latitude": latitude, "longitude": longitude, "name": name},
        }
    )

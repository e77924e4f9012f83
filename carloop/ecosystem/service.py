"""Ecosystem use cases: homes, devices and pairing, scenes, traces, pending runs, location audit."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carloop.audit import service as audit
from carloop.clock import utcnow
from carloop.ecosystem import yaml_io
from carloop.ecosystem.engine import Engine, Trace
from carloop.ecosystem.models import (
    Device,
    DeviceKind,
    DeviceStatus,
    Home,
    PairingCode,
    PendingRun,
    Precision,
    Scene,
    SceneTrace,
)
from carloop.ecosystem.presets import preset
from carloop.ecosystem.protocol import command_topic, scene_topic_problem, state_topic
from carloop.ecosystem.rules import Zone
from carloop.ecosystem.schemas import (
    DestinationAction,
    DeviceCreate,
    HomeCreate,
    MqttTrigger,
    PairedDevice,
    ProximityTrigger,
    SceneDefinition,
    dump_scene,
)
from carloop.errors import Conflict, ErrorCode, NotFound, PolicyViolation

PAIRING_TTL = timedelta(minutes=10)
TRACES_KEPT = 20
ENTITY_REF = re.compile(r"\b(?:vehicle|phone|climate|light|cover|purifier|water_heater|lock|garage)\.\d+\b")
ZONE_REF = re.compile(r"\bzone\.[a-z0-9_]+\b")


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---- homes -----------------------------------------------------------------------------------------


def create_home(*, session: Session, customer_id: int, data: HomeCreate) -> Home:
    """Add a home (its zone is ``zone.home`` for the first one, ``zone.home_<n>`` after)."""
    count = len(list_homes(session=session, customer_id=customer_id))
    home = Home(
        customer_id=customer_id,
        name=data.name,
        slug="home" if count == 0 else f"home_{count + 1}",
        latitude=data.latitude,
        longitude=data.longitude,
        radius_m=data.radius_m,
        rooms=list(data.rooms),
    )
    session.add(home)
    session.flush()
    return home


def list_homes(*, session: Session, customer_id: int) -> list[Home]:
    """The owner's homes, oldest first."""
    return list(session.scalars(select(Home).where(Home.customer_id == customer_id).order_by(Home.id)))


def list_all_homes(*, session: Session) -> list[Home]:
    """Every owner's homes (the bridge's zones)."""
    return list(session.scalars(select(Home).order_by(Home.id)))


def zones_for(homes: Iterable[Home]) -> list[Zone]:
    """Scene-engine zones for homes."""
    return [Zone(f"zone.{h.slug}", h.latitude, h.longitude, h.radius_m) for h in homes]


# ---- devices and pairing ---------------------------------------------------------------------------


def add_device(*, session: Session, customer_id: int, data: DeviceCreate) -> tuple[Device, str]:
    """Create a device waiting to be paired and its one-time pairing code."""
    if data.kind is DeviceKind.VEHICLE:
        raise PolicyViolation("Vehicles are linked when they are delivered.")
    if data.home_id is not None:
        home = session.get(Home, data.home_id)
        if home is None or home.customer_id != customer_id:
            raise NotFound("No such home.")
    device = Device(
        customer_id=customer_id, kind=data.kind, name=data.name, home_id=data.home_id, room=data.room
    )
    session.add(device)
    session.flush()
    return device, new_pairing_code(session=session, device=device)


def new_pairing_code(*, session: Session, device: Device) -> str:
    """A fresh eight-digit one-time code for ``device`` (earlier codes stop working)."""
    if device.status is DeviceStatus.REVOKED:
        raise Conflict("This device was unpaired; add it again.")
    session.execute(delete(PairingCode).where(PairingCode.device_id == device.id))
    code = f"{secrets.randbelow(10**8):08d}"
    session.add(PairingCode(device_id=device.id, code_hash=_hash(code), expires_at=utcnow() + PAIRING_TTL))
    session.flush()
    return code


def pair(*, session: Session, customer_id: int, code: str) -> PairedDevice:
    """Complete pairing with the device's one-time code (entered in the owner's app); credentials once."""
    row = session.scalars(select(PairingCode).where(PairingCode.code_hash == _hash(code.strip()))).first()
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        raise NotFound("Unknown or expired pairing code.")
    device = session.get(Device, row.device_id)
    if device is None or device.status is DeviceStatus.REVOKED or device.customer_id != customer_id:
        raise NotFound("Unknown or expired pairing code.")
    row.used_at = utcnow()
    secret = secrets.token_urlsafe(24)
    device.secret_hash = _hash(secret)
    device.status = DeviceStatus.PAIRED
    device.paired_at = utcnow()
    session.flush()
    return PairedDevice(
        device_id=device.id,
        entity_id=device.entity_id,
        client_id=f"carloop-{device.kind.value}-{device.id}",
        secret=secret,
        state_topic=state_topic(device.entity_id),
        command_topic=command_topic(device.entity_id),
    )


def unpair(*, session: Session, customer_id: int, device_id: int) -> Device:
    """Revoke a device: credentials, codes and state go; scenes that use it are disabled."""
    device = get_device(session=session, customer_id=customer_id, device_id=device_id)
    device.status = DeviceStatus.REVOKED
    device.secret_hash = ""
    device.state = {}
    device.revoked_at = utcnow()
    session.execute(delete(PairingCode).where(PairingCode.device_id == device.id))
    for scene in list_scenes(session=session, customer_id=customer_id):
        if device.entity_id in _references(scene.definition)[0]:
            scene.enabled = False
            scene.error = f"{device.entity_id} was unpaired"
    audit.record(
        session=session,
        principal=None,
        action="device.unpaired",
        target_type="device",
        target_id=device.id,
        detail={"customer_id": customer_id, "entity_id": device.entity_id},
    )
    session.flush()
    return device


def link_vehicle(
    *, session: Session, customer_id: int, order_id: int | None, vin: str | None, model: str, trim: str
) -> Device:
    """The delivered car becomes the owner's vehicle device (once per order, and once per VIN)."""
    for column, value in ((Device.order_id, order_id), (Device.vin, vin)):
        found = session.scalars(select(Device).where(column == value)).first() if value is not None else None
        if found is not None:
            return found
    device = Device(
        customer_id=customer_id,
        kind=DeviceKind.VEHICLE,
        name=f"{model} {trim}".strip(),
        status=DeviceStatus.PAIRED,
        vin=vin,
        order_id=order_id,
        paired_at=utcnow(),
        state={"model": model, "trim": trim},
    )
    session.add(device)
    session.flush()
    return device


def set_share_precision(
    *, session: Session, customer_id: int, device_id: int, precision: Precision
) -> Device:
    """Choose how precisely a car's location is published to Home Assistant (audited)."""
    device = get_device(session=session, customer_id=customer_id, device_id=device_id)
    device.share_precision = precision
    audit.record(
        session=session,
        principal=None,
        action="location.shared",
        target_type="device",
        target_id=device.id,
        detail={"viewer": "home_assistant", "owner": customer_id, "precision": precision.value},
    )
    session.flush()
    return device


def get_device(*, session: Session, customer_id: int, device_id: int) -> Device:
    """One of the owner's devices; NotFound for anyone else's."""
    device = session.get(Device, device_id)
    if device is None or device.customer_id != customer_id:
        raise NotFound("No such device.")
    return device


def list_devices(*, session: Session, customer_id: int, include_revoked: bool = False) -> list[Device]:
    """The owner's devices, vehicles first."""
    query = select(Device).where(Device.customer_id == customer_id).order_by(Device.kind, Device.id)
    if not include_revoked:
        query = query.where(Device.status != DeviceStatus.REVOKED)
    return list(session.scalars(query))


def paired_devices(*, session: Session) -> list[Device]:
    """Every paired device of every owner (the bridge loads them at start)."""
    return list(
        session.scalars(select(Device).where(Device.status == DeviceStatus.PAIRED).order_by(Device.id))
    )


def store_states(*, session: Session, states: Mapping[int, Mapping[str, Any]]) -> None:
    """Keep the latest reported state of devices (device id -> state) for pages."""
    for device_id, state in states.items():
        device = session.get(Device, device_id)
        if device is not None and device.status is DeviceStatus.PAIRED:
            device.state = {**device.state, **state}
    session.flush()


# ---- scenes ----------------------------------------------------------------------------------------


def _references(data: Any) -> tuple[set[str], set[str]]:
    text = repr(data)
    return set(ENTITY_REF.findall(text)), set(ZONE_REF.findall(text))


def _mqtt_triggers(node: Any) -> Iterator[MqttTrigger]:
    """Every MQTT trigger in a definition: its triggers and those waited for inside its actions."""
    if isinstance(node, MqttTrigger):
        yield node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _mqtt_triggers(getattr(node, name))
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _mqtt_triggers(item)
    elif isinstance(node, dict):
        for item in node.values():
            yield from _mqtt_triggers(item)


def validate_definition(
    data: Any, *, entities: set[str], zones: set[str], owner_id: int
) -> tuple[SceneDefinition | None, str]:
    """A scene definition checked for shape, for references to the owner's devices and zones, and
    for MQTT topics that are the owner's own."""
    try:
        definition = SceneDefinition.model_validate(data)
    except ValidationError as err:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors(include_url=False)
        ]
        return None, "; ".join(problems)[:2000]
    used_entities, used_zones = _references(dump_scene(definition))
    unknown = sorted((used_entities - entities) | (used_zones - zones))
    if unknown:
        return None, f"unknown devices or zones: {', '.join(unknown)}"
    for trigger in _mqtt_triggers(definition):
        problem = scene_topic_problem(trigger.topic, owner_id=owner_id, entities=entities)
        if problem is not None:
            return None, f"{trigger.topic}: {problem}"
    if definition.precision is Precision.ZONE and any(
        isinstance(t, ProximityTrigger) for t in definition.triggers
    ):
        return None, "a proximity trigger needs precision 'km' or 'exact' (it reads distances)"
    return definition, ""


def _owner_refs(session: Session, customer_id: int) -> tuple[set[str], set[str]]:
    entities = {d.entity_id for d in list_devices(session=session, customer_id=customer_id)}
    zones = {z.id for z in zones_for(list_homes(session=session, customer_id=customer_id))}
    return entities, zones


def save_scene(*, session: Session, customer_id: int, data: Any, preset_name: str = "") -> Scene:
    """Store a scene; one that fails validation is kept, disabled, with its error."""
    entities, zones = _owner_refs(session, customer_id)
    definition, error = validate_definition(data, entities=entities, zones=zones, owner_id=customer_id)
    name = definition.alias if definition else str((data or {}).get("alias") or "Untitled")[:80]
    scene = Scene(
        customer_id=customer_id,
        name=name,
        preset=preset_name,
        definition=dump_scene(definition) if definition else _jsonable(data),
        enabled=False,
        error=error,
        precision=definition.precision if definition else Precision.ZONE,
    )
    session.add(scene)
    session.flush()
    return scene


def _jsonable(data: Any) -> dict[str, Any]:
    import json

    try:
        return (
            dict(json.loads(json.dumps(data, default=str))) if isinstance(data, dict) else {"raw": str(data)}
        )
    except (TypeError, ValueError):
        return {"raw": str(data)}


def import_yaml(*, session: Session, customer_id: int, text: str) -> list[Scene]:
    """Import Home Assistant automation YAML; each automation becomes a scene (invalid ones disabled)."""
    try:
        items = yaml_io.load_yaml(text)
    except yaml_io.YamlTooLarge as err:
        raise PolicyViolation(
            f"The YAML expands beyond what carloop accepts: {err}.", code=ErrorCode.YAML_TOO_LARGE
        ) from err
    except ValueError as err:
        raise PolicyViolation(str(err)) from err
    return [save_scene(session=session, customer_id=customer_id, data=item) for item in items]


def export_yaml(*, session: Session, customer_id: int) -> str:
    """The owner's valid scenes as Home Assistant automation YAML."""
    definitions = [
        SceneDefinition.model_validate(s.definition)
        for s in list_scenes(session=session, customer_id=customer_id)
        if not s.error
    ]
    return yaml_io.export_yaml(definitions)


def add_preset(*, session: Session, customer_id: int, name: str) -> Scene:
    """Create one of the presets for the owner's first car, phone, home and devices."""
    devices = list_devices(session=session, customer_id=customer_id)
    vehicles = [d for d in devices if d.kind is DeviceKind.VEHICLE and d.status is DeviceStatus.PAIRED]
    if not vehicles:
        raise PolicyViolation("Link a car first: presets are built around it.")
    phones = [d.entity_id for d in devices if d.kind is DeviceKind.PHONE]
    locks = [d.entity_id for d in devices if d.kind is DeviceKind.LOCK]
    switchable = {DeviceKind.CLIMATE, DeviceKind.LIGHT, DeviceKind.PURIFIER, DeviceKind.WATER_HEATER}
    home_devices = [d.entity_id for d in devices if d.kind in switchable and d.status is DeviceStatus.PAIRED]
    try:
        data = preset(
            name,
            vehicle=vehicles[0].entity_id,
            phone=phones[0] if phones else None,
            devices=home_devices,
            lock=locks[0] if locks else None,
        )
    except KeyError as err:
        raise NotFound("No such preset.") from err
    return save_scene(session=session, customer_id=customer_id, data=data, preset_name=name)


def get_scene(*, session: Session, customer_id: int, scene_id: int) -> Scene:
    """One of the owner's scenes."""
    scene = session.get(Scene, scene_id)
    if scene is None or scene.customer_id != customer_id:
        raise NotFound("No such scene.")
    return scene


def list_scenes(*, session: Session, customer_id: int) -> list[Scene]:
    """The owner's scenes, oldest first."""
    return list(session.scalars(select(Scene).where(Scene.customer_id == customer_id).order_by(Scene.id)))


def enabled_scenes(*, session: Session) -> list[Scene]:
    """Every enabled scene (the bridge loads them)."""
    return list(session.scalars(select(Scene).where(Scene.enabled.is_(True)).order_by(Scene.id)))


def set_enabled(*, session: Session, customer_id: int, scene_id: int, enabled: bool) -> Scene:
    """Enable or disable a scene; a scene with a validation error cannot be enabled."""
    scene = get_scene(session=session, customer_id=customer_id, scene_id=scene_id)
    if enabled:
        entities, zones = _owner_refs(session, customer_id)
        _, error = validate_definition(scene.definition, entities=entities, zones=zones, owner_id=customer_id)
        scene.error = error
        if error:
            raise PolicyViolation(f"The scene is not valid: {error}")
    scene.enabled = enabled
    session.flush()
    return scene


def set_location_access(*, session: Session, customer_id: int, scene_id: int, revoked: bool) -> Scene:
    """Revoke (or give back) a scene's access to locations; the change is audited."""
    scene = get_scene(session=session, customer_id=customer_id, scene_id=scene_id)
    scene.location_revoked = revoked
    audit.record(
        session=session,
        principal=None,
        action="location.revoked" if revoked else "location.granted",
        target_type="scene",
        target_id=scene.id,
        detail={"owner": customer_id, "viewer": f"scene:{scene.id}", "precision": scene.precision.value},
    )
    session.flush()
    return scene


def delete_scene(*, session: Session, customer_id: int, scene_id: int) -> None:
    """Remove a scene with its traces and waiting runs."""
    scene = get_scene(session=session, customer_id=customer_id, scene_id=scene_id)
    session.execute(delete(SceneTrace).where(SceneTrace.scene_id == scene.id))
    session.execute(delete(PendingRun).where(PendingRun.scene_id == scene.id))
    session.delete(scene)
    session.flush()


# ---- traces, waiting runs and the location audit ---------------------------------------------------


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

"""Ecosystem use cases: an owner's scenes (validated against their own devices and zones), YAML import
and export, presets, enabling and location access."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carloop.audit import service as audit
from carloop.ecosystem import yaml_io
from carloop.ecosystem.models import (
    DeviceKind,
    DeviceStatus,
    PendingRun,
    Precision,
    Scene,
    SceneTrace,
)
from carloop.ecosystem.presets import preset
from carloop.ecosystem.protocol import scene_topic_problem
from carloop.ecosystem.scene_triggers import (
    MqttTrigger,
    ProximityTrigger,
)
from carloop.ecosystem.schemas import (
    SceneDefinition,
    dump_scene,
)
from carloop.ecosystem.service import list_devices, list_homes, scene_references, zones_for
from carloop.errors import ErrorCode, NotFound, PolicyViolation


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
    used_entities, used_zones = scene_references(dump_scene(definition))
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


def add_preset(*, session: Session, customer_id: int, name: str, locale: str = "en") -> Scene:
    """Create one of the presets for the owner's first car, phone, home and devices, named in ``locale``."""
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
            locale=locale,
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

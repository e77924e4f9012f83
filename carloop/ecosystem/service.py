"""Ecosystem use cases: homes, devices and pairing (scenes: ``scenes.py``; traces, runs: ``activity.py``)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carloop.audit import service as audit
from carloop.clock import utcnow
from carloop.ecosystem.api_schemas import DeviceCreate, HomeCreate, PairedDevice
from carloop.ecosystem.models import (
    Device,
    DeviceKind,
    DeviceStatus,
    Home,
    PairingCode,
    Precision,
    Scene,
)
from carloop.ecosystem.protocol import command_topic, state_topic
from carloop.ecosystem.rules import Zone
from carloop.errors import Conflict, NotFound, PolicyViolation

PAIRING_TTL = timedelta(minutes=10)
ENTITY_REF = re.compile(r"\b(?:vehicle|phone|climate|light|cover|purifier|water_heater|lock|garage)\.\d+\b")
ZONE_REF = re.compile(r"\bzone\.[a-z0-9_]+\b")


def scene_references(data: Any) -> tuple[set[str], set[str]]:
    """The entity ids and zone ids a scene definition mentions."""
    text = repr(data)
    return set(ENTITY_REF.findall(text)), set(ZONE_REF.findall(text))


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
    for scene in session.scalars(select(Scene).where(Scene.customer_id == customer_id).order_by(Scene.id)):
        if device.entity_id in scene_references(scene.definition)[0]:
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

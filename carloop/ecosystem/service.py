"""Ecosystem use cases: homes, devices and pairing (scenes: ``scenes.py``; traces, runs: ``activity.py``)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carloop.audit import service as audit
from carloop.clock import utcnow
from carloop.ecosystem import credentials
from carloop.ecosystem.api_schemas import DeviceCreate, HomeAssistantCredentials, HomeCreate, PairedDevice
from carloop.ecosystem.models import (
    Device,
    DeviceKind,
    DeviceStatus,
    Home,
    MqttAccount,
    PairingCode,
    Precision,
    Scene,
)
from carloop.ecosystem.protocol import DISCOVERY_PREFIX, availability_topic, command_topic, state_topic
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
    device.status = DeviceStatus.PAIRED
    device.paired_at = utcnow()
    return _issue_secret(session=session, device=device)


def _issue_secret(*, session: Session, device: Device) -> PairedDevice:
    """A new broker secret for ``device`` (the old one stops working at the next broker reload)."""
    secret = credentials.new_secret()
    device.secret_hash = credentials.hash_secret(secret)
    session.flush()
    username = credentials.device_username(device.entity_id)
    return PairedDevice(
        device_id=device.id,
        entity_id=device.entity_id,
        client_id=username,
        username=username,
        secret=secret,
        state_topic=state_topic(device.entity_id),
        availability_topic=availability_topic(device.entity_id),
        command_topic=command_topic(device.entity_id),
    )


def issue_device_credentials(*, session: Session, customer_id: int, device_id: int) -> PairedDevice:
    """New broker credentials for one of the owner's paired devices (a delivered car gets its first
    ones this way; a device that leaked its secret gets a new one). Shown once; audited."""
    device = get_device(session=session, customer_id=customer_id, device_id=device_id)
    if device.status is not DeviceStatus.PAIRED:
        raise Conflict("Only a paired device gets credentials; pair it first.")
    issued = _issue_secret(session=session, device=device)
    audit.record(
        session=session,
        principal=None,
        action="device.credentials_issued",
        target_type="device",
        target_id=device.id,
        detail={"customer_id": customer_id, "entity_id": device.entity_id},
    )
    return issued


def issue_home_assistant_credentials(*, session: Session, customer_id: int) -> HomeAssistantCredentials:
    """The owner's Home Assistant login on the broker (replacing any earlier one), shown once."""
    secret = credentials.new_secret()
    account = session.scalars(select(MqttAccount).where(MqttAccount.customer_id == customer_id)).first()
    if account is None:
        account = MqttAccount(
            customer_id=customer_id, username=credentials.home_assistant_username(customer_id), secret_hash=""
        )
        session.add(account)
    account.secret_hash = credentials.hash_secret(secret)
    audit.record(
        session=session,
        principal=None,
        action="device.credentials_issued",
        target_type="home_assistant",
        target_id=customer_id,
        detail={"customer_id": customer_id, "username": account.username},
    )
    session.flush()
    vehicles = [
        d.entity_id
        for d in list_devices(session=session, customer_id=customer_id)
        if d.kind is DeviceKind.VEHICLE and d.status is DeviceStatus.PAIRED
    ]
    return HomeAssistantCredentials(
        username=account.username, password=secret, discovery_prefix=DISCOVERY_PREFIX, vehicles=vehicles
    )


def revoke_home_assistant_credentials(*, session: Session, customer_id: int) -> None:
    """The owner's Home Assistant can no longer log in (at the next broker reload)."""
    session.execute(delete(MqttAccount).where(MqttAccount.customer_id == customer_id))
    session.flush()


def mqtt_accounts(*, session: Session, devices: Sequence[Device] | None = None) -> list[credentials.Account]:
    """Every paired device's and every owner's Home Assistant broker account, with its topics
    (``devices``: the paired devices when the caller has just read them).

    Devices without a broker hash (a delivered car before the owner issued its credentials, or a
    device paired before carloop wrote broker files) are left out: the broker refuses them."""
    devices = paired_devices(session=session) if devices is None else devices
    accounts = [
        credentials.device_account(d.entity_id, d.customer_id, d.secret_hash)
        for d in devices
        if credentials.is_broker_hash(d.secret_hash)
    ]
    cars: dict[int, list[str]] = {}
    for device in devices:
        if device.kind is DeviceKind.VEHICLE:
            cars.setdefault(device.customer_id, []).append(device.entity_id)
    for account in session.scalars(select(MqttAccount).order_by(MqttAccount.id)):
        accounts.append(
            credentials.home_assistant_account(
                account.customer_id, cars.get(account.customer_id, []), account.secret_hash
            )
        )
    return accounts


def accounts_signature(*, session: Session, devices: Sequence[Device]) -> tuple[Any, ...]:
    """What the broker's accounts are made of (paired devices' owners and hashes, the owners' Home
    Assistant hashes): equal signatures give equal password and ACL files."""
    logins = session.execute(
        select(MqttAccount.customer_id, MqttAccount.secret_hash).order_by(MqttAccount.id)
    ).all()
    return (
        tuple((d.id, d.kind, d.customer_id, d.secret_hash) for d in devices),
        tuple((row[0], row[1]) for row in logins),
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

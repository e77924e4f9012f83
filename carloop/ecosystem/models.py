"""Tables of the ecosystem: homes, devices, pairing codes, scenes, run traces and pending runs, and the
bridges' membership and partition leases (cars sharded across bridge processes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId, enum_column
from carloop.ecosystem.kinds import DeviceKind, DeviceStatus, Precision  # re-exported for callers


class Home(Base):
    """An owner's home: a named zone on the map with rooms."""

    __tablename__ = "eco_home"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customer.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    slug: Mapped[str] = mapped_column(String(40))  # the zone id is zone.<slug>
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[float] = mapped_column(Float, default=150.0)
    rooms: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("customer_id", "slug"),)


class Device(Base):
    """A vehicle, phone or home device belonging to one owner."""

    __tablename__ = "eco_device"
    __table_args__ = (Index("ix_eco_device_owner_kind", "customer_id", "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customer.id"))
    kind: Mapped[DeviceKind] = mapped_column(enum_column(DeviceKind))
    name: Mapped[str] = mapped_column(String(80))
    home_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("eco_home.id"))
    room: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[DeviceStatus] = mapped_column(enum_column(DeviceStatus), default=DeviceStatus.PENDING)
    vin: Mapped[str | None] = mapped_column(String(20), unique=True)
    order_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # The MQTT client secret the device was issued at pairing (Mosquitto's ``$7$`` PBKDF2 hash; never
    # the secret itself). The broker checks it: it is written into the broker's password file.
    secret_hash: Mapped[str] = mapped_column(String(160), default="")
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # How precisely this device's location is published to Home Assistant (the owner chooses).
    share_precision: Mapped[Precision] = mapped_column(enum_column(Precision), default=Precision.ZONE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paired_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    @property
    def entity_id(self) -> str:
        """The id scenes and topics use: ``<kind>.<id>``."""
        return f"{self.kind.value}.{self.id}"


class MqttAccount(Base):
    """An owner's Home Assistant login on the broker (one per owner; issuing again replaces it)."""

    __tablename__ = "eco_mqtt_account"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customer.id"), unique=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(160))  # Mosquitto's $7$ PBKDF2 hash
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PairingCode(Base):
    """A one-time code the owner types into (or scans from) a new device."""

    __tablename__ = "eco_pairing_code"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("eco_device.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class Scene(Base):
    """An owner's automation: validated rule data, enabled only when valid."""

    __tablename__ = "eco_scene"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customer.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    preset: Mapped[str] = mapped_column(String(40), default="")
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(String(2000), default="")
    precision: Mapped[Precision] = mapped_column(enum_column(Precision), default=Precision.ZONE)
    location_revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SceneTrace(Base):
    """One run of a scene: what triggered it, which conditions passed, what each step did."""

    __tablename__ = "eco_scene_trace"
    __table_args__ = (Index("ix_eco_scene_trace_scene", "scene_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scene_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("eco_scene.id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(String(40), unique=True)
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(30))
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)


class PendingRun(Base):
    """A scene run waiting on a delay or a trigger; reloaded after a restart."""

    __tablename__ = "eco_pending_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scene_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("eco_scene.id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(String(40), unique=True)
    resume_at: Mapped[datetime | None] = mapped_column(index=True)
    continuation: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class OwnerSettings(Base):
    """An owner's ecosystem choices: Home Assistant's language, and whether drives are recorded."""

    __tablename__ = "eco_owner_settings"

    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customer.id"), primary_key=True)
    ha_language: Mapped[str] = mapped_column(String(8), default="zh_CN")  # zh_CN | en
    # Consent to keep the car's state history for dry runs; off until the owner turns it on.
    record_drives: Mapped[bool] = mapped_column(Boolean, default=False)
    drive_retention_days: Mapped[int] = mapped_column(Integer, default=30)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DriveSample(Base):
    """One recorded state of an owner's car (kept only with consent, for as long as the owner says)."""

    __tablename__ = "eco_drive_sample"
    __table_args__ = (Index("ix_eco_drive_sample_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("eco_device.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customer.id"), index=True)
    at: Mapped[datetime] = mapped_column()
    state: Mapped[dict[str, Any]] = mapped_column(JSON)


class BridgeMember(Base):
    """A running bridge process; it counts in the shares while its lease lasts (renewed every beat)."""

    __tablename__ = "eco_bridge_member"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)  # host:pid:random, one per process
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime] = mapped_column(index=True)  # past it, the others count it gone


class BridgePartition(Base):
    """One partition of the cars (owners hashed into ``partitions``) and the bridge serving it now.

    A bridge takes a partition only with one conditional UPDATE (free, its own, or its holder's lease
    lapsed), so no partition has two holders; a holder that leaves releases it after handing its cars'
    state to the database, one that dies loses it when the lease lapses."""

    __tablename__ = "eco_bridge_partition"

    partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    member: Mapped[str] = mapped_column(String(120), default="")  # "" = free
    lease_until: Mapped[datetime | None]
    since: Mapped[datetime | None]  # when the current holder took it

"""Request and response shapes of the ecosystem's API and pages: homes, devices, pairing, scenes, traces.

The scene language itself (triggers, conditions, actions) is ``schemas.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from carloop.ecosystem.kinds import DeviceKind, DeviceStatus, Precision


class HomeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    radius_m: float = Field(default=150.0, ge=30, le=5000)
    rooms: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=30
    )


class HomeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    slug: str
    latitude: float
    longitude: float
    radius_m: float
    rooms: list[str]


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: DeviceKind
    name: str = Field(min_length=1, max_length=80)
    home_id: int | None = Field(default=None, gt=0, lt=2**63)
    room: str = Field(default="", max_length=40)


class DeviceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entity_id: str
    kind: DeviceKind
    name: str
    home_id: int | None
    room: str
    status: DeviceStatus
    vin: str | None
    state: dict[str, Any]
    paired_at: datetime | None


class PairingCodeRead(BaseModel):
    device_id: int
    code: str
    expires_at: datetime


class PairRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=6, max_length=12)


class PairedDevice(BaseModel):
    """What a device receives once: its broker login (username = client id, secret) and topics."""

    device_id: int
    entity_id: str
    client_id: str
    username: str
    secret: str
    state_topic: str
    availability_topic: str
    command_topic: str


class HomeAssistantCredentials(BaseModel):
    """What the owner types into Home Assistant's MQTT integration, shown once."""

    username: str
    password: str
    discovery_prefix: str
    vehicles: list[str]


class SceneCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] | None = None
    yaml: str | None = Field(default=None, max_length=50_000)
    preset: str | None = Field(default=None, max_length=40)


class SceneRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    preset: str
    enabled: bool
    error: str
    precision: Precision
    location_revoked: bool
    definition: dict[str, Any]


class TraceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    trigger: dict[str, Any]
    steps: list[dict[str, Any]]
    dry_run: bool


class DestinationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str = Field(default="", max_length=80)

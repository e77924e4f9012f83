"""Ecosystem API: homes, devices and pairing, scenes (HA YAML in and out), traces, dry runs, destinations."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from carloop.accounts.schemas import Principal
from carloop.clock import FIRST_DAY, FIRST_MOMENT, LAST_DAY, LAST_MOMENT, utcnow
from carloop.ecosystem import activity, drives, preferences, service
from carloop.ecosystem import scenes as scene_service
from carloop.ecosystem.api_schemas import (
    DestinationIn,
    DeviceCreate,
    DeviceRead,
    HomeAssistantCredentials,
    HomeCreate,
    HomeRead,
    PairedDevice,
    PairingCodeRead,
    PairRequest,
    SceneCreate,
    SceneRead,
    TraceRead,
)
from carloop.ecosystem.dryrun import dry_run
from carloop.ecosystem.models import DeviceKind, Precision
from carloop.ecosystem.runtime import Runtime
from carloop.ecosystem.schemas import SceneDefinition
from carloop.ecosystem.simulator import ROUTES, record_drive
from carloop.errors import Conflict, NotFound, PolicyViolation
from carloop.web.deps import CurrentCustomer, DbSession

router = APIRouter(prefix="/ecosystem", tags=["ecosystem"])


def _me(principal: Principal) -> int:
    assert principal.customer_id is not None  # require_customer guarantees it
    return principal.customer_id


def runtime_of(request: Request) -> Runtime:
    """The running bridge; Conflict when the server runs without the ecosystem."""
    runtime: Runtime | None = getattr(request.app.state, "ecosystem", None)
    if runtime is None or runtime.bridge is None:
        raise Conflict("The vehicle bridge is not running on this server.")
    return runtime


@router.get("/homes", response_model=list[HomeRead])
def homes(session: DbSession, me: CurrentCustomer) -> Any:
    """My homes."""
    return service.list_homes(session=session, customer_id=_me(me))


@router.post("/homes", response_model=HomeRead, status_code=201)
def add_home(data: HomeCreate, session: DbSession, me: CurrentCustomer) -> Any:
    """Add a home (its zone is what scenes call ``zone.home``)."""
    return service.create_home(session=session, customer_id=_me(me), data=data)


@router.get("/devices", response_model=list[DeviceRead])
def devices(session: DbSession, me: CurrentCustomer) -> Any:
    """My vehicles, phones and home devices."""
    return service.list_devices(session=session, customer_id=_me(me))


@router.post("/devices", response_model=PairingCodeRead, status_code=201)
def add_device(data: DeviceCreate, session: DbSession, me: CurrentCustomer) -> Any:
    """Add a device and get the one-time code to enter on it."""
    device, code = service.add_device(session=session, customer_id=_me(me), data=data)
    assert device.id is not None
    expires = utcnow() + service.PAIRING_TTL
    return PairingCodeRead(device_id=device.id, code=code, expires_at=expires)


@router.post("/pair", response_model=PairedDevice)
def pair(data: PairRequest, session: DbSession, me: CurrentCustomer) -> Any:
    """Complete pairing with the code shown for the device; returns its credentials and topics (once)."""
    return service.pair(session=session, customer_id=_me(me), code=data.code)


@router.post("/devices/{device_id}/credentials", response_model=PairedDevice)
def device_credentials(device_id: int, session: DbSession, me: CurrentCustomer) -> Any:
    """New broker credentials for my paired device (a delivered car gets its first ones here); once."""
    return service.issue_device_credentials(session=session, customer_id=_me(me), device_id=device_id)


@router.post("/home-assistant/credentials", response_model=HomeAssistantCredentials)
def home_assistant_credentials(session: DbSession, me: CurrentCustomer) -> Any:
    """My Home Assistant's broker login (replacing any earlier one); shown once."""
    return service.issue_home_assistant_credentials(session=session, customer_id=_me(me))


@router.delete("/home-assistant/credentials", status_code=204)
def revoke_home_assistant(session: DbSession, me: CurrentCustomer) -> None:
    """My Home Assistant can no longer connect."""
    service.revoke_home_assistant_credentials(session=session, customer_id=_me(me))


@router.delete("/devices/{device_id}", status_code=204)
def unpair(device_id: int, session: DbSession, me: CurrentCustomer) -> None:
    """Unpair a device: its credentials go and scenes using it are disabled."""
    service.unpair(session=session, customer_id=_me(me), device_id=device_id)


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    precision: Precision


@router.put("/devices/{device_id}/share", response_model=DeviceRead)
def share(device_id: int, data: ShareIn, session: DbSession, me: CurrentCustomer) -> Any:
    """How precisely this car's location is published to Home Assistant."""
    return service.set_share_precision(
        session=session, customer_id=_me(me), device_id=device_id, precision=data.precision
    )


@router.post("/vehicles/{device_id}/destination", status_code=202)
def send_destination(
    device_id: int, data: DestinationIn, request: Request, session: DbSession, me: CurrentCustomer
) -> dict[str, str]:
    """Send a navigation destination from the phone to the car."""
    device = service.get_device(session=session, customer_id=_me(me), device_id=device_id)
    if device.kind is not DeviceKind.VEHICLE:
        raise NotFound("No such vehicle.")
    runtime_of(request).send(device.entity_id, "navigate", data.model_dump(), source=f"owner:{_me(me)}")
    return {"status": "sent"}


@router.get("/scenes", response_model=list[SceneRead])
def scenes(session: DbSession, me: CurrentCustomer) -> Any:
    """My scenes, each with its validation error if it has one."""
    return scene_service.list_scenes(session=session, customer_id=_me(me))


@router.post("/scenes", response_model=list[SceneRead], status_code=201)
def add_scenes(data: SceneCreate, request: Request, session: DbSession, me: CurrentCustomer) -> Any:
    """Create scenes from a definition, Home Assistant YAML or a preset (invalid ones stay disabled); a
    preset is named and worded in the request's language (Accept-Language), as the owner reads it."""
    given = [x for x in (data.definition, data.yaml, data.preset) if x is not None]
    if len(given) != 1:
        raise PolicyViolation("Give exactly one of definition, yaml or preset.")
    if data.definition is not None:
        return [scene_service.save_scene(session=session, customer_id=_me(me), data=data.definition)]
    if data.yaml is not None:
        return scene_service.import_yaml(session=session, customer_id=_me(me), text=data.yaml)
    locale = getattr(request.state, "locale", "en")
    me_id, name = _me(me), str(data.preset)
    return [scene_service.add_preset(session=session, customer_id=me_id, name=name, locale=locale)]


@router.get("/scenes/export", response_class=PlainTextResponse)
def export(session: DbSession, me: CurrentCustomer) -> str:
    """My valid scenes as Home Assistant ``automations.yaml``."""
    return scene_service.export_yaml(session=session, customer_id=_me(me))


@router.post("/scenes/{scene_id}/enable", response_model=SceneRead)
def enable(scene_id: int, session: DbSession, me: CurrentCustomer) -> Any:
    """Enable a valid scene."""
    return scene_service.set_enabled(session=session, customer_id=_me(me), scene_id=scene_id, enabled=True)


@router.post("/scenes/{scene_id}/disable", response_model=SceneRead)
def disable(scene_id: int, session: DbSession, me: CurrentCustomer) -> Any:
    """Disable a scene."""
    return scene_service.set_enabled(session=session, customer_id=_me(me), scene_id=scene_id, enabled=False)


@router.post("/scenes/{scene_id}/location", response_model=SceneRead)
def location_access(
    scene_id: int, session: DbSession, me: CurrentCustomer, revoked: Annotated[bool, Body(embed=True)]
) -> Any:
    """Revoke or restore a scene's access to locations."""
    return scene_service.set_location_access(
        session=session, customer_id=_me(me), scene_id=scene_id, revoked=revoked
    )


@router.delete("/scenes/{scene_id}", status_code=204)
def delete(scene_id: int, session: DbSession, me: CurrentCustomer) -> None:
    """Delete a scene with its traces."""
    scene_service.delete_scene(session=session, customer_id=_me(me), scene_id=scene_id)


@router.get("/scenes/{scene_id}/traces", response_model=list[TraceRead])
def traces(scene_id: int, session: DbSession, me: CurrentCustomer) -> Any:
    """The last runs of a scene, newest first."""
    return activity.list_traces(session=session, customer_id=_me(me), scene_id=scene_id)


class OwnerSettingsIO(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    ha_language: str = "zh_CN"
    record_drives: bool = False
    drive_retention_days: int = Field(default=30, ge=1, le=365)


@router.get("/settings", response_model=OwnerSettingsIO)
def get_owner_settings(session: DbSession, me: CurrentCustomer) -> Any:
    """My ecosystem settings: Home Assistant's language, drive recording and its retention."""
    return preferences.get_settings(session=session, customer_id=_me(me))


@router.put("/settings", response_model=OwnerSettingsIO)
def put_owner_settings(data: OwnerSettingsIO, session: DbSession, me: CurrentCustomer) -> Any:
    """Change them; turning recording off deletes the recorded drives."""
    preferences.set_ha_language(session=session, customer_id=_me(me), language=data.ha_language)
    settings = preferences.set_drive_recording(
        session=session,
        customer_id=_me(me),
        record=data.record_drives,
        retention_days=data.drive_retention_days,
    )
    if not data.record_drives:
        drives.delete_drives(session=session, customer_id=_me(me))
    return settings


@router.get("/drives")
def drive_days(session: DbSession, me: CurrentCustomer) -> list[dict[str, Any]]:
    """The days with recorded drives (local dates), newest first, with their sample counts."""
    return [
        {"day": d.isoformat(), "samples": n} for d, n in drives.days(session=session, customer_id=_me(me))
    ]


@router.delete("/drives", status_code=204)
def delete_drive_days(session: DbSession, me: CurrentCustomer, day: date | None = None) -> None:
    """Delete one day of recorded drives (``?day=YYYY-MM-DD``) or all of them."""
    drives.delete_drives(session=session, customer_id=_me(me), day=day)


class DryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    route: str = "office-home"
    # A car's speed: a crawl would record a sample a second for ever (1e-300 km/h never arrives).
    speed_kmh: float = Field(default=50.0, ge=5, le=300)
    # POSIX seconds the recording starts at, within the calendar (1e12 is past year 9999: a 500).
    start: float = Field(default=1_780_000_000.0, ge=FIRST_MOMENT.timestamp(), le=LAST_MOMENT.timestamp())
    recording: list[dict[str, Any]] | None = None
    # replay this local day of the owner's recorded drives instead
    day: date | None = Field(default=None, ge=FIRST_DAY, le=LAST_DAY)


@router.post("/scenes/{scene_id}/dry-run")
def dry_run_scene(scene_id: int, data: DryRunIn, session: DbSession, me: CurrentCustomer) -> dict[str, Any]:
    """Run a scene against a recorded drive (given, or one of the simulator's routes)."""
    return run_dry(session=session, customer_id=_me(me), scene_id=scene_id, data=data)


def run_dry(*, session: Any, customer_id: int, scene_id: int, data: DryRunIn) -> dict[str, Any]:
    """What a dry run of a scene would do, as JSON (pages use it too)."""
    scene = scene_service.get_scene(session=session, customer_id=customer_id, scene_id=scene_id)
    if scene.error:
        raise PolicyViolation(f"The scene is not valid: {scene.error}")
    definition = SceneDefinition.model_validate(scene.definition)
    devices = service.list_devices(session=session, customer_id=customer_id)
    vehicles = [d.entity_id for d in devices if d.kind is DeviceKind.VEHICLE]
    recording = data.recording
    if recording is None and data.day is not None:
        recording = drives.recording(session=session, customer_id=customer_id, day=data.day)
        if not recording:
            raise NotFound("No recorded drive on that day.")
    if recording is None:
        if data.route not in ROUTES or not vehicles:
            raise NotFound("No such route, or no car to drive it.")
        recording = record_drive(vehicles[0], ROUTES[data.route], start=data.start, speed_kmh=data.speed_kmh)
    result = dry_run(
        definition,
        owner_id=customer_id,
        zones=service.zones_for(service.list_homes(session=session, customer_id=customer_id)),
        entities={d.entity_id: dict(d.state) for d in devices},
        recording=recording,
    )
    return {
        "samples": result.samples,
        "effects": [
            {"at": at, "kind": e.kind, "entity_id": e.entity_id, "command": e.command, "args": e.args}
            for at, e in result.effects
        ],
        "traces": [
            {"started_at": t.started_at, "outcome": t.outcome, "trigger": t.trigger, "steps": t.steps}
            for t in result.traces
        ],
    }

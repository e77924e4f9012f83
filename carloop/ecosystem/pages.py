"""Owner pages: my car and home (devices, pairing, scenes), a scene's traces and dry run, the phone page.

The ecosystem runtime these pages talk to (broker, bridge, demo fleet) is started with the server by
``web/app.py`` (``runtime.start``) and kept on ``app.state.ecosystem``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from carloop.clock import FIRST_DAY, LAST_DAY
from carloop.ecosystem import activity, drives, live, preferences, service
from carloop.ecosystem import scenes as scene_service
from carloop.ecosystem.api import DryRunIn, run_dry, runtime_of
from carloop.ecosystem.api_schemas import DeviceCreate, HomeCreate
from carloop.ecosystem.models import DeviceKind, Precision
from carloop.ecosystem.presets import PRESETS
from carloop.ecosystem.runtime import Runtime
from carloop.ecosystem.simulator import PLACES
from carloop.errors import DomainError
from carloop.web.deps import CurrentCustomer, DbSession, FormCustomer

router = APIRouter()

KINDS = [k for k in DeviceKind if k is not DeviceKind.VEHICLE]
# (latitude, longitude, English name, Chinese name): the car shows the name in its owner's language
DESTINATIONS = {
    "people_square": (*PLACES["people_square"], "People's Square", "人民广场"),
    "hongqiao": (*PLACES["hongqiao"], "Hongqiao Station", "虹桥火车站"),
    "office": (*PLACES["office"], "Lujiazui", "陆家嘴"),
}


def _me(principal: Any) -> int:
    assert principal.customer_id is not None  # require_customer guarantees it
    return int(principal.customer_id)


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


def _back(path: str = "/ecosystem", **query: str) -> RedirectResponse:
    return RedirectResponse(path + (f"?{urlencode(query)}" if query else ""), status_code=303)


@router.get("/ecosystem")
def overview(
    request: Request, session: DbSession, me: CurrentCustomer, code: str = "", error: str = ""
) -> Response:
    """My car and home: devices with their state (kept live by ``live_pages``), pairing, scenes."""
    customer_id = _me(me)
    runtime: Runtime | None = getattr(request.app.state, "ecosystem", None)
    homes = service.list_homes(session=session, customer_id=customer_id)
    devices = service.list_devices(session=session, customer_id=customer_id)
    places = [live.Place(h.name, h.latitude, h.longitude, h.radius_m) for h in homes]
    return _render(
        request,
        "ecosystem/overview.html",
        {
            "homes": homes,
            "devices": devices,
            "views": {d.id: live.view(d.state, places) for d in devices},
            "scenes": scene_service.list_scenes(session=session, customer_id=customer_id),
            "presets": PRESETS,
            "kinds": KINDS,
            "precisions": list(Precision),
            "code": code[:12],
            "error": error[:300],
            "bridge_running": runtime is not None,
            "simulated": runtime is not None and runtime.fleet is not None,
            "places": PLACES,
            "location_log": activity.location_log(session=session, customer_id=customer_id),
            "owner": preferences.get_settings(session=session, customer_id=customer_id),
            "retention_days": preferences.RETENTION_DAYS,
            "drive_days": drives.days(session=session, customer_id=customer_id),
            "last_seen": _last_seen,
        },
    )


def _last_seen(state: dict[str, Any]) -> datetime | None:
    """When the device last reported (its state's ``ts``), for the page."""
    ts = state.get("ts")
    return datetime.fromtimestamp(ts, UTC) if isinstance(ts, int | float) else None


@router.post("/ecosystem/home-assistant/language")
def ha_language(
    session: DbSession, me: FormCustomer, language: Annotated[str, Form(max_length=8)]
) -> Response:
    """Choose the language of the names Home Assistant shows for my cars."""
    return _attempt(
        lambda: preferences.set_ha_language(session=session, customer_id=_me(me), language=language)
    )


@router.post("/ecosystem/drives/consent")
def drive_consent(
    session: DbSession,
    me: FormCustomer,
    record: Annotated[bool, Form()],
    retention_days: Annotated[int, Form(ge=1, le=365)] = 30,
) -> Response:
    """Turn recording of my drives on or off (off deletes what was kept) and choose how long they stay."""

    def act() -> None:
        preferences.set_drive_recording(
            session=session, customer_id=_me(me), record=record, retention_days=retention_days
        )
        if not record:
            drives.delete_drives(session=session, customer_id=_me(me))

    return _attempt(act)


@router.post("/ecosystem/drives/delete")
def delete_drives(
    session: DbSession, me: FormCustomer, day: Annotated[date | None, Form(ge=FIRST_DAY, le=LAST_DAY)] = None
) -> Response:
    """Delete one day of my recorded drives, or all of them."""
    return _attempt(lambda: drives.delete_drives(session=session, customer_id=_me(me), day=day))


def _attempt(action: Any) -> RedirectResponse:
    try:
        result = action()
    except DomainError as err:
        return _back(error=err.message[:200])
    return result if isinstance(result, RedirectResponse) else _back()


@router.post("/ecosystem/homes")
def add_home(
    session: DbSession,
    me: FormCustomer,
    name: Annotated[str, Form(min_length=1, max_length=60)],
    latitude: Annotated[float, Form(ge=-90, le=90)],
    longitude: Annotated[float, Form(ge=-180, le=180)],
    radius_m: Annotated[float, Form(ge=30, le=5000)] = 150.0,
) -> Response:
    """Add a home."""
    data = HomeCreate(name=name, latitude=latitude, longitude=longitude, radius_m=radius_m)
    return _attempt(lambda: service.create_home(session=session, customer_id=_me(me), data=data))


@router.post("/ecosystem/devices")
def add_device(
    session: DbSession,
    me: FormCustomer,
    kind: Annotated[DeviceKind, Form()],
    name: Annotated[str, Form(min_length=1, max_length=80)],
    home_id: Annotated[int | None, Form(gt=0, lt=2**63)] = None,
    room: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Add a home device or phone and show its one-time pairing code."""

    def act() -> RedirectResponse:
        data = DeviceCreate(kind=kind, name=name, home_id=home_id, room=room)
        _, code = service.add_device(session=session, customer_id=_me(me), data=data)
        return _back(code=code)

    return _attempt(act)


@router.post("/ecosystem/pair")
def pair(
    session: DbSession, me: FormCustomer, code: Annotated[str, Form(min_length=6, max_length=12)]
) -> Response:
    """Enter the code on the device (the demo acts as the device)."""
    return _attempt(lambda: service.pair(session=session, customer_id=_me(me), code=code))


@router.post("/ecosystem/devices/{device_id}/unpair")
def unpair(device_id: int, session: DbSession, me: FormCustomer) -> Response:
    """Unpair a device."""
    return _attempt(lambda: service.unpair(session=session, customer_id=_me(me), device_id=device_id))


@router.post("/ecosystem/devices/{device_id}/share")
def share(
    device_id: int, session: DbSession, me: FormCustomer, precision: Annotated[Precision, Form()]
) -> Response:
    """Choose what Home Assistant may see of the car's location."""
    return _attempt(
        lambda: service.set_share_precision(
            session=session, customer_id=_me(me), device_id=device_id, precision=precision
        )
    )


@router.post("/ecosystem/devices/{device_id}/drive-home")
def drive_home(device_id: int, request: Request, session: DbSession, me: FormCustomer) -> Response:
    """Demo: the simulated car drives from Lujiazui to the owner's home."""

    def act() -> RedirectResponse:
        device = service.get_device(session=session, customer_id=_me(me), device_id=device_id)
        homes = service.list_homes(session=session, customer_id=_me(me))
        home = (homes[0].latitude, homes[0].longitude) if homes else None
        if not runtime_of(request).drive_home(device.entity_id, home):
            return _back(error="This car is not simulated on this server.")
        return _back()  # the page follows the drive live (server-sent events)

    return _attempt(act)


@router.post("/ecosystem/scenes/preset")
def add_preset(
    request: Request, session: DbSession, me: FormCustomer, preset: Annotated[str, Form(max_length=40)]
) -> Response:
    """Add one of the preset scenes, named in the page's language."""
    locale = getattr(request.state, "locale", "en")
    return _attempt(
        lambda: scene_service.add_preset(session=session, customer_id=_me(me), name=preset, locale=locale)
    )


@router.post("/ecosystem/scenes/import")
def import_yaml(
    session: DbSession, me: FormCustomer, text: Annotated[str, Form(max_length=50_000)]
) -> Response:
    """Import Home Assistant automation YAML."""
    return _attempt(lambda: scene_service.import_yaml(session=session, customer_id=_me(me), text=text))


@router.post("/ecosystem/scenes/{scene_id}/toggle")
def toggle(scene_id: int, session: DbSession, me: FormCustomer, enabled: Annotated[bool, Form()]) -> Response:
    """Enable or disable a scene."""
    return _attempt(
        lambda: scene_service.set_enabled(
            session=session, customer_id=_me(me), scene_id=scene_id, enabled=enabled
        )
    )


@router.post("/ecosystem/scenes/{scene_id}/location")
def location(
    scene_id: int, session: DbSession, me: FormCustomer, revoked: Annotated[bool, Form()]
) -> Response:
    """Revoke or restore a scene's access to locations."""
    return _attempt(
        lambda: scene_service.set_location_access(
            session=session, customer_id=_me(me), scene_id=scene_id, revoked=revoked
        )
    )


@router.get("/ecosystem/scenes/{scene_id}")
def scene_page(
    scene_id: int,
    request: Request,
    session: DbSession,
    me: CurrentCustomer,
    dry: int = 0,
    day: date | None = None,
) -> Response:
    """A scene: its definition as HA YAML, its error, its last runs, and (on request) a dry run over
    a simulated drive or one day of the owner's recorded drives."""
    customer_id = _me(me)
    scene = scene_service.get_scene(session=session, customer_id=customer_id, scene_id=scene_id)
    dry_result = None
    if dry and not scene.error:
        try:
            dry_result = run_dry(
                session=session, customer_id=customer_id, scene_id=scene_id, data=DryRunIn(day=day)
            )
        except DomainError as err:
            dry_result = {"error": err.message}
    return _render(
        request,
        "ecosystem/scene.html",
        {
            "scene": scene,
            "yaml": yaml.safe_dump(scene.definition, allow_unicode=True, sort_keys=False),
            "traces": activity.list_traces(session=session, customer_id=customer_id, scene_id=scene_id),
            "dry": dry_result,
            "day": day,
            "drive_days": drives.days(session=session, customer_id=customer_id),
        },
    )


@router.get("/ecosystem/phone")
def phone(
    request: Request, session: DbSession, me: CurrentCustomer, sent: str = "", error: str = ""
) -> Response:
    """The phone page: pick a destination and send it to the car."""
    vehicles = [
        d for d in service.list_devices(session=session, customer_id=_me(me)) if d.kind is DeviceKind.VEHICLE
    ]
    return _render(
        request,
        "ecosystem/phone.html",
        {"vehicles": vehicles, "destinations": DESTINATIONS, "sent": sent[:80], "error": error[:300]},
    )


@router.post("/ecosystem/phone/destination")
def send_destination(
    request: Request,
    session: DbSession,
    me: FormCustomer,
    device_id: Annotated[int, Form(gt=0, lt=2**63)],
    destination: Annotated[str, Form(max_length=40)],
) -> Response:
    """Send the chosen destination to the car through the bridge."""
    try:
        device = service.get_device(session=session, customer_id=_me(me), device_id=device_id)
        if device.kind is not DeviceKind.VEHICLE or destination not in DESTINATIONS:
            return _back("/ecosystem/phone", error="Choose one of your cars and a destination.")
        lat, lon, name_en, name_zh = DESTINATIONS[destination]
        name = name_zh if getattr(request.state, "locale", "") == "zh_CN" else name_en
        runtime_of(request).send(
            device.entity_id,
            "navigate",
            {"latitude": lat, "longitude": lon, "name": name},
            source=f"owner:{_me(me)}",
        )
    except DomainError as err:
        return _back("/ecosystem/phone", error=err.message)
    return _back("/ecosystem/phone", sent=destination)

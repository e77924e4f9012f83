"""Network pages: the store finder with an offline map, and one outlet with its slots to book."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from carloop.appointments import service as appointments
from carloop.appointments.schemas import AppointmentKind, ServiceType
from carloop.clock import utcnow
from carloop.errors import DomainError
from carloop.network import centre_pages, handover_pages, outlet_pages, sample, service
from carloop.network.schemas import StoreKind, StoreService
from carloop.web.deps import DbSession, OptionalPrincipal

router = APIRouter()
router.include_router(handover_pages.router)  # the balance, till and handover pages
router.include_router(outlet_pages.router)  # HQ's and store staff's outlet pages
router.include_router(centre_pages.router)  # centre load and rebalancing; a buyer's centre choice

MAP_W, MAP_H = 620, 420
LON0, LON1, LAT0, LAT1 = 73.0, 135.0, 18.0, 54.0  # mainland China's bounding box


def map_xy(lat: float | None, lon: float | None) -> tuple[int, int] | None:
    """Where a point falls on the page's plain equirectangular map (None without coordinates)."""
    if lat is None or lon is None:
        return None
    return round((lon - LON0) / (LON1 - LON0) * MAP_W), round((LAT1 - lat) / (LAT1 - LAT0) * MAP_H)


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


def _live_map(request: Request, everything: list[Any], found: list[service.Found]) -> dict[str, Any]:
    """What the Leaflet map draws: city names, every outlet, the results with their distances."""
    zh = getattr(request.state, "locale", "zh_CN") == "zh_CN"
    hits = {f.store.id: f.distance_km for f in found}
    return {
        "tiles": request.app.state.settings.map_tile_url,
        "cities": [
            {"name": c.name_zh if zh else c.name, "lat": c.latitude, "lon": c.longitude}
            for c in sample.cities()[:60]
        ],
        "stores": [
            {
                "code": s.code,
                "name": s.name_zh if zh else s.name_en,
                "lat": s.latitude,
                "lon": s.longitude,
                "centre": str(s.kind) == "delivery_centre",
                "hit": s.id in hits,
                "km": hits.get(s.id),
            }
            for s in everything
            if s.latitude is not None and s.longitude is not None
        ],
    }


@router.get("/stores")
def finder(
    request: Request,
    session: DbSession,
    me: OptionalPrincipal,
    city: Annotated[str, Query(max_length=60)] = "",
    kind: Annotated[str, Query(max_length=20)] = "",
    service_offered: Annotated[str, Query(alias="service", max_length=20)] = "",
    model: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """Find outlets near a city, by kind, service and model on display, on a list and a map."""
    error = ""
    found: list[service.Found] = []
    try:
        found = service.find_stores(
            session=session,
            city=city.strip() or None,
            kind=StoreKind(kind) if kind in set(StoreKind) else None,
            service=StoreService(service_offered) if service_offered in set(StoreService) else None,
            model=model or None,
            limit=20,
        )
    except DomainError as err:
        error = err.message
    everything = service.list_stores(session=session)
    return _render(
        request,
        "network/finder.html",
        {
            "found": found,
            "error": error,
            "query": {"city": city, "kind": kind, "service": service_offered, "model": model},
            "kinds": list(StoreKind),
            "services": list(StoreService),
            "models": ["su7", "yu7"],
            "dots": [(map_xy(s.latitude, s.longitude), s.kind) for s in everything if s.latitude is not None],
            "hits": [(map_xy(f.store.latitude, f.store.longitude), f.store) for f in found],
            "map_w": MAP_W,
            "map_h": MAP_H,
            "live_map": _live_map(request, everything, found),
        },
        404 if error else 200,
    )


@router.get("/stores/{code}")
def store_page(
    code: str,
    request: Request,
    session: DbSession,
    me: OptionalPrincipal,
    kind: Annotated[str, Query(max_length=20)] = "test_drive",
    day: date | None = None,
    model: Annotated[str, Query(max_length=40)] = "",
    service_type: Annotated[str, Query(max_length=20)] = "maintenance",
    order: Annotated[str, Query(max_length=24)] = "",
) -> Response:
    """One outlet: where, when open, what it offers, and the free slots of a day to book."""
    store = service.get_store_by_code(session=session, code=code)
    detail = service.detail(store)
    today = utcnow().date()
    day = day or today + timedelta(days=1)
    chosen = AppointmentKind(kind) if kind in set(AppointmentKind) else AppointmentKind.TEST_DRIVE
    model = model or (detail.demo_cars[0].model if detail.demo_cars else "")
    stype = ServiceType(service_type) if service_type in set(ServiceType) else ServiceType.MAINTENANCE
    slots: list[tuple[Any, Any, int]] = []
    slot_error = ""
    try:
        slots = appointments.available_slots(
            session=session, store_code=code, kind=chosen, day=day, model=model or None, service_type=stype
        )
    except DomainError as err:
        slot_error = err.message
    return _render(
        request,
        "network/store.html",
        {
            "store": detail,
            "kind": chosen,
            "kinds": [k for k in AppointmentKind if str(k) in {str(s) for s in detail.services}],
            "day": day,
            "days": [today + timedelta(days=i) for i in range(1, 8)],
            "model": model,
            "service_type": stype,
            "service_types": list(ServiceType),
            "order_number": order,
            "slots": slots,
            "slot_error": slot_error,
            "signed_in_customer": me is not None and me.customer_id is not None,
        },
    )

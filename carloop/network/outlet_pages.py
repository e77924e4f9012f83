"""Staff pages of the store network: HQ lists, creates and edits outlets (kind, hub, hours, bays,
demo cars); store staff see and keep their own outlet. The rules are ``outlets.save_outlet``'s."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError

from carloop.catalog import service as catalog
from carloop.errors import DomainError, PermissionDenied
from carloop.network import outlets, rules
from carloop.network.models import Store
from carloop.network.schemas import StoreCreate, StoreKind
from carloop.web.deps import CurrentStaff, DbSession, FormStaff

router = APIRouter()
CHECK_FIELDS = "Check the code (capital letters, digits and -), the names, the city and the coordinates."


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/staff/stores")
def outlet_list(request: Request, session: DbSession, staff: CurrentStaff) -> Response:
    """The outlets this staff member may edit, with their kind, hub and hours."""
    stores = outlets.visible_outlets(session=session, principal=staff)
    codes = {s.id: s.code for s in outlets.hubs(session=session)}
    return _render(
        request,
        "network/outlets.html",
        {
            "stores": stores,
            "hub_codes": codes,
            "may_create": staff.role in outlets.HQ,
            "hours": {s.id: rules.opening_hours(s.opens_minute, s.closes_minute) for s in stores},
        },
    )


def _form_page(
    request: Request,
    session: DbSession,
    store: Store | None,
    values: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return _render(
        request,
        "network/outlet_form.html",
        {
            "store": store,
            "v": values,
            "kinds": list(StoreKind),
            "hubs": [h for h in outlets.hubs(session=session) if store is None or h.id != store.id],
            "models": list(catalog.current_catalog().models.values()),
            "error": error,
        },
        status_code,
    )


def _values(store: Store | None) -> dict[str, Any]:
    if store is None:
        return {"kind": "store", "opens": "10:00", "closes": "21:00", "demo": {}}
    return {
        "code": store.code,
        "kind": str(store.kind),
        "name_en": store.name_en,
        "name_zh": store.name_zh,
        "city": store.city,
        "province": store.province,
        "address": store.address,
        "latitude": "" if store.latitude is None else store.latitude,
        "longitude": "" if store.longitude is None else store.longitude,
        "hub_code": "",
        "opens": rules.opening_hours(store.opens_minute, store.closes_minute).split("-")[0],
        "closes": rules.opening_hours(store.opens_minute, store.closes_minute).split("-")[1],
        "delivery_bays": store.delivery_bays,
        "storage_capacity": store.storage_capacity,
        "service_bays": store.service_bays,
        "technicians": store.technicians,
        "demo": {c.model: c.cars for c in store.demo_cars},
    }


@router.get("/staff/stores/new")
def new_outlet(request: Request, session: DbSession, staff: CurrentStaff) -> Response:
    """The empty outlet form (HQ only)."""
    if staff.role not in outlets.HQ:
        raise PermissionDenied("Only HQ creates outlets; store staff edit their own outlet.")
    return _form_page(request, session, None, _values(None))


@router.get("/staff/stores/{code}")
def edit_outlet(code: str, request: Request, session: DbSession, staff: CurrentStaff) -> Response:
    """One outlet's form; another store's outlet is not found for store staff."""
    store = outlets.outlet_for(session=session, principal=staff, code=code)
    values = _values(store)
    hub = outlets.hub_of(session=session, store=store)
    values["hub_code"] = hub.code if hub is not None else ""
    return _form_page(request, session, store, values)


class OutletFormIn(BaseModel):
    """The outlet form as posted (create and edit share it; ``csrf_token`` is checked by ``FormStaff``)."""

    code: str = Field(max_length=32)
    kind: StoreKind
    name_en: str = Field(max_length=200)
    name_zh: str = Field(max_length=200)
    city: str = Field(max_length=200)
    province: str = Field(max_length=200)
    address: str = Field("", max_length=200)
    latitude: str = Field("", max_length=20)
    longitude: str = Field("", max_length=20)
    hub_code: str = Field("", max_length=32)
    opens: str = Field("", max_length=5)
    closes: str = Field("", max_length=5)
    delivery_bays: int = Field(0, ge=0, le=rules.MAX_STORAGE)
    storage_capacity: int = Field(0, ge=0, le=rules.MAX_STORAGE)
    service_bays: int = Field(0, ge=0, le=rules.MAX_STORAGE)
    technicians: int = Field(0, ge=0, le=rules.MAX_STORAGE)
    demo_model: list[str] = Field(default_factory=list, max_length=20)
    demo_cars: list[Annotated[int, Field(ge=0, le=rules.MAX_STORAGE)]] = Field(
        default_factory=list, max_length=20
    )


OutletFields = Annotated[OutletFormIn, Form()]


@router.post("/staff/stores")
def create_outlet(request: Request, session: DbSession, staff: FormStaff, form: OutletFields) -> Response:
    """Create an outlet (HQ only), then show it."""
    return _save(request, session, staff, None, form)


@router.post("/staff/stores/{store_code}")
def update_outlet(
    store_code: str, request: Request, session: DbSession, staff: FormStaff, form: OutletFields
) -> Response:
    """Save an outlet this staff member may edit."""
    store = outlets.outlet_for(session=session, principal=staff, code=store_code)
    return _save(request, session, staff, store, form)


def _save(
    request: Request, session: DbSession, staff: Any, store: Store | None, posted: OutletFormIn
) -> Response:
    f = posted.model_dump()
    cars = dict(zip(posted.demo_model, posted.demo_cars, strict=False))
    values = {k: f[k] for k in _FIELDS} | {"kind": str(posted.kind), "demo": cars}
    try:
        StoreCreate(  # the API's shape of an outlet: code pattern and name lengths
            code=f["code"].strip().upper(),
            kind=f["kind"],
            name_en=f["name_en"].strip(),
            name_zh=f["name_zh"].strip(),
            city=f["city"].strip(),
            province=f["province"].strip(),
        )
        lat = float(f["latitude"]) if f["latitude"].strip() else None
        lon = float(f["longitude"]) if f["longitude"].strip() else None
    except (ValidationError, ValueError):
        return _form_page(request, session, store, values, CHECK_FIELDS, 422)
    if (lat is not None and not -90 <= lat <= 90) or (lon is not None and not -180 <= lon <= 180):
        return _form_page(request, session, store, values, CHECK_FIELDS, 422)
    form = outlets.OutletForm(
        code=f["code"].strip().upper(),
        kind=f["kind"],
        name_en=f["name_en"],
        name_zh=f["name_zh"],
        city=f["city"],
        province=f["province"],
        address=f["address"],
        latitude=lat,
        longitude=lon,
        hub_code=f["hub_code"].strip(),
        opens=f["opens"],
        closes=f["closes"],
        delivery_bays=f["delivery_bays"],
        storage_capacity=f["storage_capacity"],
        service_bays=f["service_bays"],
        technicians=f["technicians"],
        demo_cars={m: n for m, n in cars.items() if n},
    )
    try:
        with session.begin_nested():
            saved = outlets.save_outlet(
                session=session, principal=staff, form=form, store=store, ip=_ip(request)
            )
    except PermissionDenied:
        raise
    except DomainError as err:
        return _form_page(request, session, store, values, err.message, 422)
    return RedirectResponse(f"/staff/stores/{saved.code}?saved=1", status_code=303)


_FIELDS = (
    *("code", "name_en", "name_zh", "city", "province", "address", "latitude", "longitude", "hub_code"),
    *("opens", "closes", "delivery_bays", "storage_capacity", "service_bays", "technicians"),
)

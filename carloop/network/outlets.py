"""Running the store network: HQ creates and edits outlets (kind, hub, hours, bays, demo cars); a
store's own staff keep their outlet's hours, bays and demo cars. Every save is audited.

The checks are ``rules.check_outlet``'s; which staff may touch which outlet is ``may_edit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.catalog import service as catalog
from carloop.errors import Conflict, NotFound, PermissionDenied, PolicyViolation
from carloop.network import rules, service
from carloop.network.models import Store
from carloop.network.schemas import StoreKind

HQ = (Role.HQ_OPS, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class OutletForm:
    """What the outlet form submits (times as typed, ``HH:MM``)."""

    code: str
    kind: StoreKind
    name_en: str
    name_zh: str
    city: str
    province: str
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    hub_code: str = ""
    opens: str = "10:00"
    closes: str = "21:00"
    delivery_bays: int = 0
    storage_capacity: int = 0
    service_bays: int = 0
    technicians: int = 0
    demo_cars: dict[str, int] = field(default_factory=dict)


def may_edit(principal: Principal, store: Store | None) -> bool:
    """HQ edits and creates any outlet; store staff only their own outlet; nobody else any."""
    if principal.role in HQ:
        return True
    return principal.role is Role.STORE_STAFF and store is not None and store.id == principal.store_id


def visible_outlets(*, session: Session, principal: Principal) -> list[Store]:
    """The outlets a staff member may open: all for HQ, their own for store staff."""
    if principal.role in HQ:
        return service.list_stores(session=session)
    if principal.role is Role.STORE_STAFF and principal.store_id is not None:
        return [service.get_store(session=session, store_id=principal.store_id)]
    return []


def outlet_for(*, session: Session, principal: Principal, code: str) -> Store:
    """An outlet the staff member may edit; any other is reported as not found."""
    store = service.find_store(session=session, code=code)
    if store is None or not may_edit(principal, store):
        raise NotFound(f"No store {code}.", store_code=code)
    return store


def save_outlet(
    *,
    session: Session,
    principal: Principal,
    form: OutletForm,
    store: Store | None = None,
    ip: str | None = None,
) -> Store:
    """Create an outlet (``store`` None, HQ only) or save one, with the same checks either way."""
    if not may_edit(principal, store):
        raise PermissionDenied("Only HQ creates outlets; store staff edit their own outlet.")
    hub = service.find_store(session=session, code=form.hub_code) if form.hub_code else None
    if form.hub_code and hub is None:
        code = form.hub_code
        raise NotFound(f"No store {code}.", store_code=code)
    if hub is not None and store is not None and hub.id == store.id:
        raise PolicyViolation("A satellite's hub must be a delivery centre.")
    if store is not None and principal.role not in HQ:
        kept = (store.code, store.kind, store.hub_id)
        if (form.code, form.kind, hub.id if hub else None) != kept:
            raise PermissionDenied("Only HQ changes an outlet's code, kind or hub.")
    unknown = sorted(set(form.demo_cars) - set(catalog.current_catalog().models))
    if unknown:
        raise PolicyViolation(f"There is no model {unknown[0]} to keep as a demo car.")
    satellites = 0
    if store is not None:
        satellites = (
            session.scalar(select(func.count()).select_from(Store).where(Store.hub_id == store.id)) or 0
        )
    opens, closes = rules.parse_time(form.opens), rules.parse_time(form.closes)
    rules.check_outlet(
        kind=form.kind,
        hub_kind=hub.kind if hub is not None else None,
        has_satellites=satellites > 0,
        opens_minute=opens,
        closes_minute=closes,
        counts=[form.delivery_bays, form.storage_capacity, form.service_bays, form.technicians],
        demo_cars=form.demo_cars,
    )
    assert opens is not None and closes is not None  # check_outlet refused anything else
    created = store is None
    if store is None:
        if service.find_store(session=session, code=form.code) is not None:
            raise Conflict("A store with this code already exists.", store_code=form.code)
        store = Store(code=form.code)
        session.add(store)
    before = _snapshot(store) if not created else None
    store.code, store.kind, store.hub_id = form.code, form.kind, hub.id if hub is not None else None
    store.name_en, store.name_zh = form.name_en.strip(), form.name_zh.strip()
    store.city, store.province, store.address = form.city.strip(), form.province.strip(), form.address.strip()
    store.latitude, store.longitude = form.latitude, form.longitude
    store.opens_minute, store.closes_minute = opens, closes
    store.delivery_bays, store.storage_capacity = form.delivery_bays, form.storage_capacity
    store.service_bays, store.technicians = form.service_bays, form.technicians
    session.flush()
    service.set_demo_cars(session=session, store=store, cars=form.demo_cars)
    audit.record(
        session=session,
        principal=principal,
        action="network.store.create" if created else "network.store.update",
        target_type="store",
        target_id=store.code,
        detail={"before": before, "after": _snapshot(store)},
        ip=ip,
    )
    return store


def _snapshot(store: Store) -> dict[str, object]:
    return {
        "kind": str(store.kind),
        "hub_id": store.hub_id,
        "hours": rules.opening_hours(store.opens_minute, store.closes_minute),
        "delivery_bays": store.delivery_bays,
        "storage_capacity": store.storage_capacity,
        "service_bays": store.service_bays,
        "technicians": store.technicians,
        "demo_cars": {c.model: c.cars for c in store.demo_cars},
    }


def hub_of(*, session: Session, store: Store) -> Store | None:
    """The delivery centre a satellite belongs to."""
    return session.get(Store, store.hub_id) if store.hub_id is not None else None


def hubs(*, session: Session) -> list[Store]:
    """Every delivery centre, the hubs a satellite may belong to."""
    return service.list_stores(session=session, kind=StoreKind.DELIVERY_CENTRE)

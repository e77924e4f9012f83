"""Store network use cases: outlets, the store finder, delivery-centre assignment and buyer notices."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from carloop.accounts.schemas import Principal
from carloop.audit import service as audit
from carloop.errors import CapacityExhausted, Conflict, NotFound, PolicyViolation
from carloop.network import rules, sample
from carloop.network.models import DemoCar, Store
from carloop.network.schemas import DemoCarRead, StoreDetail, StoreKind, StoreService
from carloop.notices import service as notices
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus

# Orders a centre may still hand to another centre: the car is not on its way there yet.
MOVABLE = [OrderStatus.RESERVED, OrderStatus.LOCKED, OrderStatus.SCHEDULED, OrderStatus.IN_PRODUCTION]


def get_store(*, session: Session, store_id: int) -> Store:
    """The outlet with this id; ``NotFound`` if there is none."""
    store = session.get(Store, store_id)
    if store is None:
        raise NotFound("No such store.", store_id=store_id)
    return store


def find_store(*, session: Session, code: str) -> Store | None:
    """The outlet with this code, or None."""
    return session.scalars(select(Store).where(Store.code == code)).one_or_none()


def get_store_by_code(*, session: Session, code: str) -> Store:
    """The outlet with this code; ``NotFound`` if there is none."""
    store = find_store(session=session, code=code)
    if store is None:
        raise NotFound(f"No store {code}.", store_code=code)
    return store


def list_stores(*, session: Session, kind: StoreKind | None = None, city: str | None = None) -> list[Store]:
    """Outlets ordered by code, optionally only of one kind or in one city."""
    query = select(Store).order_by(Store.code)
    if kind is not None:
        query = query.where(Store.kind == kind)
    if city is not None:
        query = query.where(Store.city == city)
    return list(session.scalars(query))


def create_store(
    *,
    session: Session,
    code: str,
    kind: StoreKind,
    name_en: str,
    name_zh: str,
    city: str,
    province: str,
) -> Store:
    """Add an outlet; ``Conflict`` if its code is taken."""
    if find_store(session=session, code=code) is not None:
        raise Conflict("A store with this code already exists.", store_code=code)
    store = Store(code=code, kind=kind, name_en=name_en, name_zh=name_zh, city=city, province=province)
    session.add(store)
    session.flush()
    return store


_SAMPLE_FIELDS = (
    *("kind", "name_en", "name_zh", "city", "province", "address", "latitude", "longitude"),
    *("opens_minute", "closes_minute", "delivery_bays", "storage_capacity", "service_bays", "technicians"),
)


def seed_sample_network(*, session: Session) -> int:
    """Create or refresh the sample network (idempotent: outlets keep their ids); returns its size."""
    existing = {s.code: s for s in session.scalars(select(Store).options(selectinload(Store.demo_cars)))}
    generated = sample.generate()
    for row in generated:
        store = existing.get(row.code)
        if store is None:
            store = Store(code=row.code)
            session.add(store)
        for name in _SAMPLE_FIELDS:
            setattr(store, name, getattr(row, name))
        _set_cars(store, row.demo_cars)
    session.flush()
    return len(generated)


def set_demo_cars(*, session: Session, store: Store, cars: dict[str, int]) -> Store:
    """Replace the test-drive cars a store keeps (model -> how many)."""
    _set_cars(store, cars)
    session.flush()
    return store


def _set_cars(store: Store, cars: dict[str, int]) -> None:
    by_model = {c.model: c for c in store.demo_cars}
    for model, car in by_model.items():
        if cars.get(model, 0) <= 0:
            store.demo_cars.remove(car)
    for model, n in sorted(cars.items()):
        if n <= 0:
            continue
        if model in by_model:
            by_model[model].cars = n
        else:
            store.demo_cars.append(DemoCar(model=model, cars=n))


def demo_cars_of(store: Store, model: str) -> int:
    """How many demo cars of ``model`` the store keeps."""
    return next((c.cars for c in store.demo_cars if c.model == model), 0)


def detail(store: Store) -> StoreDetail:
    """The API shape of an outlet with everything a buyer needs to choose it."""
    return StoreDetail(
        id=store.id,
        code=store.code,
        kind=store.kind,
        name_en=store.name_en,
        name_zh=store.name_zh,
        city=store.city,
        province=store.province,
        address=store.address,
        latitude=store.latitude,
        longitude=store.longitude,
        opening_hours=rules.opening_hours(store.opens_minute, store.closes_minute),
        services=sorted(rules.services_of(store.kind)),
        demo_cars=[DemoCarRead.model_validate(c) for c in store.demo_cars],
        delivery_bays=store.delivery_bays,
        service_bays=store.service_bays,
        technicians=store.technicians,
    )


def city_point(*, session: Session, city: str) -> tuple[float, float]:
    """Coordinates of a city: from the GeoNames sample, else the middle of its outlets; ``NotFound``."""
    point = sample.city_point(city)
    if point is not None:
        return point
    rows = [
        (float(lat), float(lon))
        for lat, lon in session.execute(select(Store.latitude, Store.longitude).where(Store.city == city))
        if lat is not None and lon is not None
    ]
    if not rows:
        raise NotFound(f"Unknown city {city!r}.", city=city)
    return sum(r[0] for r in rows) / len(rows), sum(r[1] for r in rows) / len(rows)


@dataclass(frozen=True, slots=True)
class Found:
    """A finder result."""

    store: Store
    distance_km: float | None


def find_stores(
    *,
    session: Session,
    lat: float | None = None,
    lon: float | None = None,
    city: str | None = None,
    kind: StoreKind | None = None,
    service: StoreService | None = None,
    model: str | None = None,
    limit: int = 10,
) -> list[Found]:
    """Outlets nearest a point or city, filtered by kind, service offered and model on display."""
    if (lat is None) != (lon is None):
        raise PolicyViolation("Give both lat and lon, or a city.")
    if lat is None and city:
        lat, lon = city_point(session=session, city=city)
    query = select(Store).options(selectinload(Store.demo_cars)).order_by(Store.code)
    if kind is not None:
        query = query.where(Store.kind == kind)
    if service is not None:
        query = query.where(Store.kind.in_([k for k, s in rules.SERVICES.items() if service in s]))
    if model is not None:
        query = query.where(Store.demo_cars.any((DemoCar.model == model) & (DemoCar.cars > 0)))
    stores = list(session.scalars(query))
    limit = max(1, min(limit, 100))
    if lat is None or lon is None:
        return [Found(s, None) for s in stores[:limit]]
    by_id = {s.id: s for s in stores}
    places = [
        rules.Place(s.id, s.latitude, s.longitude)
        for s in stores
        if s.latitude is not None and s.longitude is not None
    ]
    return [Found(by_id[p.id], round(d, 1)) for p, d in rules.nearest(places, lat, lon, limit)]


def _centre_loads(
    session: Session, lat: float, lon: float, exclude: int | None = None
) -> list[rules.CentreLoad]:
    centres = [
        c
        for c in list_stores(session=session, kind=StoreKind.DELIVERY_CENTRE)
        if c.latitude is not None and c.longitude is not None and c.id != exclude
    ]
    loads = ordering.delivery_store_load(session=session, store_ids=[c.id for c in centres])
    return [
        rules.CentreLoad(
            c.id,
            rules.distance_km(lat, lon, c.latitude or 0.0, c.longitude or 0.0),
            loads.get(c.id, 0),
            c.storage_capacity,
        )
        for c in centres
    ]


def assign_delivery_centre(*, session: Session, order: Order, city: str, actor: str) -> Found:
    """Give an order the nearest delivery centre with room for it, balanced against centre load."""
    if order.status not in MOVABLE and order.delivery_store_id is not None:
        raise PolicyViolation(
            f"Order {order.number} is {order.status}; its delivery centre can no longer change."
        )
    lat, lon = city_point(session=session, city=city)
    current = order.delivery_store_id
    candidates = [
        # the order's own centre counts it already: judge it as if the order were not there
        rules.CentreLoad(c.store_id, c.distance_km, c.load - (1 if c.store_id == current else 0), c.capacity)
        for c in _centre_loads(session, lat, lon)
    ]
    choice = rules.choose_centre(candidates)
    if choice is None:
        raise CapacityExhausted("Every delivery centre is full; try again later.")
    ordering.assign_delivery_store(
        session=session,
        order=order,
        store_id=choice.store_id,
        actor=actor,
        reason=f"delivery centre for {city}",
    )
    return Found(get_store(session=session, store_id=choice.store_id), round(choice.distance_km, 1))


def rebalance_centre(
    *, session: Session, store_id: int, actor: str, principal: Principal | None = None
) -> list[str]:
    """Move the newest movable orders off an overloaded centre to the next best one; buyers are told.

    When staff ask for it (``principal``), the move is written to the audit log."""
    centre = get_store(session=session, store_id=store_id)
    load = ordering.delivery_store_load(session=session, store_ids=[store_id]).get(store_id, 0)
    excess = rules.overload(load, centre.storage_capacity)
    moved = _move_orders_off(session, centre, excess, actor)
    if principal is not None:
        audit.record(
            session=session,
            principal=principal,
            action="network.rebalance",
            target_type="store",
            target_id=store_id,
            detail={"centre": centre.code, "moved": moved},
        )
    return moved


def _move_orders_off(session: Session, centre: Store, excess: int, actor: str) -> list[str]:
    """Reassign up to ``excess`` of the centre's newest movable orders to the next best centres."""
    if excess == 0 or centre.latitude is None or centre.longitude is None:
        return []
    moved: list[str] = []
    for order in ordering.orders_for_delivery_store(session=session, store_id=centre.id, statuses=MOVABLE)[
        :excess
    ]:
        choice = rules.choose_centre(
            _centre_loads(session, centre.latitude, centre.longitude, exclude=centre.id)
        )
        if choice is None:
            break
        target = get_store(session=session, store_id=choice.store_id)
        ordering.assign_delivery_store(
            session=session, order=order, store_id=target.id, actor=actor, reason=f"{centre.code} overloaded"
        )
        notices.notify(
            session=session,
            customer_id=order.customer_id,
            kind="centre_changed",
            key=f"network:reassigned:{order.id}:{target.id}",
            source="network",
            subject=(
                f"Order {order.number}: new delivery centre {target.name_en}",
                f"订单{order.number}：交付中心改为{target.name_zh}",
            ),
            body=(
                f"{centre.name_en} is at capacity, so your car will be handed over at {target.name_en},"
                f" {rules.address_in(target.address, 'en')}.",
                f"{centre.name_zh}已满额，您的车辆将改在{target.name_zh}交付"
                f"（{rules.address_in(target.address, 'zh_CN')}）。",
            ),
            order_id=order.id,
            order_number=order.number,
        )
        moved.append(order.number)
    return moved

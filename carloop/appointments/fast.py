"""The lean booking path: a test-drive or service booking in a few Core statements, no ORM.

``carloop.web.booking_lane`` answers ``POST /api/v1/appointments`` with these functions; the
FastAPI route (``service.book``) stays the reference and handles everything else (deliveries, bad
input, staff tokens). Both follow the same rules (``appointments.rules``) and both rely on the same
guarantee: every booking inserts its ``appointment_hold`` rows under the unique key
(store, resource unit, slot start), so two bookings of one unit at one time can never both commit.

A request is first *checked* on a read connection: the bearer session, the store and its demo
cars, and the holds already on the slot (one query each). A slot that is already full is refused
there, without writing. Otherwise a :class:`Attempt` goes to :func:`write_batch`, which stores many
attempts in one transaction: per attempt one ``INSERT ... RETURNING id`` for the appointment and one
``INSERT ... ON CONFLICT DO NOTHING`` per hold; a unit someone else holds is skipped for the next
one, and an attempt that finds no free unit is undone (its rows deleted) and refused with 409.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, select

from carloop.accounts.models import SessionToken
from carloop.appointments import holds, rules
from carloop.appointments.models import Appointment, AppointmentHold
from carloop.appointments.schemas import (
    AppointmentCreate,
    AppointmentKind,
    AppointmentRead,
    AppointmentStatus,
    ServiceType,
)
from carloop.clock import utcnow
from carloop.errors import NotFound, PolicyViolation
from carloop.network import rules as network_rules
from carloop.network.models import DemoCar, Store
from carloop.network.schemas import StoreKind, StoreService

FAST_KINDS = frozenset({AppointmentKind.TEST_DRIVE, AppointmentKind.SERVICE})
FULL = rules.FULL

_APPOINTMENT = cast(Table, Appointment.__table__)
_HOLD = cast(Table, AppointmentHold.__table__)
_TOKEN = cast(Table, SessionToken.__table__)
_STORE = cast(Table, Store.__table__)
_DEMO = cast(Table, DemoCar.__table__)
_OFFERS = {
    AppointmentKind.TEST_DRIVE: StoreService.TEST_DRIVE,
    AppointmentKind.SERVICE: StoreService.SERVICE,
}


@dataclass(frozen=True, slots=True)
class StoreRow:
    """What a booking needs of an outlet, read in one query."""

    id: int
    code: str
    kind: StoreKind
    name_en: str
    name_zh: str
    opens_minute: int
    closes_minute: int
    service_bays: int
    technicians: int
    demo_cars: int  # of the model asked for


@dataclass(slots=True)
class Attempt:
    """A checked booking waiting for its write: who, where, when, and which resource groups to hold."""

    customer_id: int
    store: StoreRow
    kind: AppointmentKind
    starts_at: datetime
    ends_at: datetime
    model: str | None
    service_type: ServiceType | None
    needs: list[tuple[rules.ResourceGroup, list[datetime]]] = field(default_factory=list)


# Statements are built once: their compiled form and cache key are then reused on every request.
_SESSION = select(_TOKEN.c.customer_id, _TOKEN.c.expires_at, _TOKEN.c.revoked_at).where(
    _TOKEN.c.token_hash == bindparam("digest")
)
_SLOT = (
    select(
        _STORE.c.id,
        _STORE.c.code,
        _STORE.c.kind,
        _STORE.c.name_en,
        _STORE.c.name_zh,
        _STORE.c.opens_minute,
        _STORE.c.closes_minute,
        _STORE.c.service_bays,
        _STORE.c.technicians,
        select(_DEMO.c.cars)
        .where(_DEMO.c.store_id == _STORE.c.id, _DEMO.c.model == bindparam("model"))
        .scalar_subquery(),
        _HOLD.c.resource,
        _HOLD.c.starts_at,
        select(_TOKEN.c.customer_id)
        .where(
            _TOKEN.c.token_hash == bindparam("digest"),
            _TOKEN.c.revoked_at.is_(None),
            _TOKEN.c.expires_at > bindparam("now", type_=_TOKEN.c.expires_at.type),
        )
        .scalar_subquery(),
    )
    .select_from(
        _STORE.outerjoin(
            _HOLD,
            and_(_HOLD.c.store_id == _STORE.c.id, _HOLD.c.starts_at.in_(bindparam("times", expanding=True))),
        )
    )
    .where(_STORE.c.code == bindparam("code"))
)


_NEW_APPOINTMENT = insert(_APPOINTMENT).returning(_APPOINTMENT.c.id)


def customer_of(conn: Connection, token: str, now: datetime) -> int | None:
    """The customer behind a live bearer session token, or None (unknown, expired, revoked, staff)."""
    if not token or len(token) > 256:
        return None
    row = conn.execute(_SESSION, {"digest": digest(token)}).first()
    if row is None or row.customer_id is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return int(row.customer_id)


def requested_steps(body: AppointmentCreate) -> list[datetime]:
    """The grid steps the requested booking would hold (before the slot itself is checked)."""
    length = rules.duration(body.kind, body.service_type if body.kind is AppointmentKind.SERVICE else None)
    starts_at = body.starts_at.astimezone(UTC)
    steps = rules.steps(starts_at, length, body.kind)
    if body.kind in rules.BUYER_DAY_LIMITS:  # and the buyer's allowance for that day
        steps.append(rules.day_mark(starts_at))
    return steps


def digest(token: str) -> str:
    """The stored hash of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def load_slot(
    conn: Connection,
    code: str,
    model: str | None,
    times: list[datetime],
    *,
    token: str = "",
    now: datetime | None = None,
) -> tuple[StoreRow | None, set[tuple[str, datetime]], int | None]:
    """In one query: the outlet with this code (with its demo cars of ``model``), what is held there at
    these steps, and the customer of the live session ``token`` (None when there is no such store)."""
    params = {
        "code": code,
        "model": model or "",
        "times": times,
        "digest": digest(token),
        "now": now or utcnow(),
    }
    rows = conn.execute(_SLOT, params).all()
    if not rows:
        return None, set(), None
    first = rows[0]
    store = StoreRow(*first[:9], demo_cars=int(first[9] or 0))
    customer = None if first[12] is None or not token or len(token) > 256 else int(first[12])
    return store, {(r[10], r[11]) for r in rows if r[10] is not None}, customer


def load_store(conn: Connection, code: str, model: str | None) -> StoreRow | None:
    """The outlet with this code and how many demo cars of ``model`` it keeps."""
    return load_slot(conn, code, model, [])[0]


def plan(body: AppointmentCreate, *, customer_id: int, store: StoreRow | None, now: datetime) -> Attempt:
    """The attempt for a request, by the same rules as ``service.book``; a ``DomainError`` if refused."""
    if store is None:
        raise NotFound(f"No store {body.store_code}.", store_code=body.store_code)
    kind = body.kind
    if kind not in FAST_KINDS:
        raise ValueError(f"{kind} bookings take the full route")
    model = body.model if kind is AppointmentKind.TEST_DRIVE else None
    service_type = (body.service_type or ServiceType.MAINTENANCE) if kind is AppointmentKind.SERVICE else None
    if kind is AppointmentKind.TEST_DRIVE and not model:
        raise PolicyViolation("Choose the model to test drive.")
    if _OFFERS[kind] not in network_rules.services_of(store.kind):
        raise PolicyViolation(f"{store.code} does not offer {kind}.", store_code=store.code)
    groups = rules.resource_groups(
        kind,
        model=model,
        demo_cars=store.demo_cars,
        service_bays=store.service_bays,
        technicians=store.technicians,
    )
    if any(g.count <= 0 for g in groups):
        what = f"a {model} demo car" if kind is AppointmentKind.TEST_DRIVE else f"{kind} capacity"
        raise PolicyViolation(f"{store.code} has no {what}.", store_code=store.code)
    length = rules.duration(kind, service_type)
    starts_at = rules.check_slot(
        body.starts_at,
        now=now,
        opens_minute=store.opens_minute,
        closes_minute=store.closes_minute,
        kind=kind,
        length=length,
    )
    times = rules.steps(starts_at, length, kind)
    needs = [(g, times) for g in groups]
    needs.append(rules.buyer_slot_need(customer_id, times))
    allowance = rules.buyer_need(kind, customer_id, starts_at)
    if allowance is not None:
        needs.append(allowance)
    return Attempt(
        customer_id=customer_id,
        store=store,
        kind=kind,
        starts_at=starts_at,
        ends_at=starts_at + length,
        model=model,
        service_type=service_type,
        needs=needs,
    )


def refuse_if_full(attempt: Attempt, taken: set[tuple[str, datetime]]) -> None:
    """``CapacityExhausted`` when some needed group has no unit free at every step (read, no write)."""
    rules.check_free(attempt.needs, taken)


def steps_of(attempt: Attempt) -> list[datetime]:
    """Every step the attempt's holds cover."""
    return sorted({t for _, times in attempt.needs for t in times})


def write_batch(conn: Connection, attempts: list[Attempt], now: datetime) -> list[int | None]:
    """Store attempts in the caller's transaction: the new appointment id of each, or None if refused.

    Attempts are written in (store, start) order so concurrent writers take unique keys in the same
    order. A refused attempt leaves no row behind.
    """
    results: list[int | None] = [None] * len(attempts)
    order = sorted(range(len(attempts)), key=lambda i: (attempts[i].store.id, attempts[i].starts_at))
    for i in order:
        a = attempts[i]
        appointment_id = conn.execute(
            _NEW_APPOINTMENT,
            {
                "customer_id": a.customer_id,
                "store_id": a.store.id,
                "kind": a.kind,
                "status": AppointmentStatus.BOOKED,
                "starts_at": a.starts_at,
                "ends_at": a.ends_at,
                "model": a.model,
                "service_type": a.service_type,
                "created_at": now,
                "updated_at": now,
            },
        ).scalar_one()
        if holds.hold_needs(conn, a.store.id, int(appointment_id), a.needs) is None:
            results[i] = int(appointment_id)
            continue
        conn.execute(delete(_HOLD).where(_HOLD.c.appointment_id == appointment_id))
        conn.execute(delete(_APPOINTMENT).where(_APPOINTMENT.c.id == appointment_id))
    return results


def read(attempt: Attempt, appointment_id: int) -> AppointmentRead:
    """The API shape of a stored attempt, as the FastAPI route answers it."""
    return AppointmentRead(
        id=appointment_id,
        kind=attempt.kind,
        status=AppointmentStatus.BOOKED,
        store_code=attempt.store.code,
        store_name_en=attempt.store.name_en,
        store_name_zh=attempt.store.name_zh,
        starts_at=attempt.starts_at,
        ends_at=attempt.ends_at,
        model=attempt.model,
        order_number=None,
        service_type=attempt.service_type,
    )

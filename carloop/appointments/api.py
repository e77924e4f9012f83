"""Appointment API: free slots, book, reschedule, cancel, and the staff day calendar."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from carloop.appointments import service
from carloop.appointments.schemas import (
    AppointmentCreate,
    AppointmentKind,
    AppointmentRead,
    AppointmentReschedule,
    DayCalendar,
    ServiceType,
    SlotRead,
)
from carloop.web.deps import CurrentCustomer, CurrentPrincipal, CurrentStaff, DbSession

router = APIRouter(tags=["appointments"])


async def one_writer(request: Request) -> AsyncIterator[None]:
    """On SQLite, admit one booking transaction at a time, in arrival order, until it has committed.

    SQLite has a single writer and every transaction here begins IMMEDIATE; without this queue the
    losers poll the busy lock with growing sleeps, which is what makes tail latency explode. The
    unique constraint still decides every race; this only orders the waiting (per process).
    """
    if not request.app.state.settings.is_sqlite:
        yield
        return
    gate = getattr(request.app.state, "sqlite_booking_gate", None)
    if gate is None:
        gate = request.app.state.sqlite_booking_gate = asyncio.Lock()
    async with gate:
        yield


# Declared before the session so it is entered first and left last, after the commit.
WriterGate = Annotated[None, Depends(one_writer, scope="function")]


@router.get("/stores/{code}/slots", response_model=list[SlotRead])
def slots(
    code: str,
    session: DbSession,
    kind: AppointmentKind,
    day: date,
    model: Annotated[str | None, Query(max_length=40)] = None,
    service_type: ServiceType | None = None,
) -> list[SlotRead]:
    """A store's slots on a day for one kind of appointment, with how many bookings each can still take
    (public: anyone may see when a store is free; booking needs a signed-in buyer)."""
    found = service.available_slots(
        session=session, store_code=code, kind=kind, day=day, model=model, service_type=service_type
    )
    return [SlotRead(starts_at=s, ends_at=e, free=n) for s, e, n in found]


@router.post("/appointments", status_code=201, response_model=AppointmentRead)
def book(_: WriterGate, body: AppointmentCreate, session: DbSession, me: CurrentCustomer) -> AppointmentRead:
    """Book a test drive, delivery or service slot; a taken slot is 409 and nothing is held."""
    assert me.customer_id is not None
    appointment = service.book(
        session=session,
        customer_id=me.customer_id,
        kind=body.kind,
        store_code=body.store_code,
        starts_at=body.starts_at,
        model=body.model,
        order_number=body.order_number,
        service_type=body.service_type,
    )
    return service.read(session, appointment)


@router.get("/appointments", response_model=list[AppointmentRead])
def mine(session: DbSession, me: CurrentCustomer) -> list[AppointmentRead]:
    """The buyer's appointments, soonest first."""
    assert me.customer_id is not None
    return [
        service.read(session, a)
        for a in service.list_for_customer(session=session, customer_id=me.customer_id)
    ]


@router.get("/appointments/{appointment_id}", response_model=AppointmentRead)
def get_one(appointment_id: int, session: DbSession, me: CurrentPrincipal) -> AppointmentRead:
    """One appointment its buyer or its store's staff may see; anyone else's is 404."""
    return service.read(
        session, service.get_for(session=session, principal=me, appointment_id=appointment_id)
    )


@router.post("/appointments/{appointment_id}/reschedule", response_model=AppointmentRead)
def reschedule(
    _: WriterGate, appointment_id: int, body: AppointmentReschedule, session: DbSession, me: CurrentPrincipal
) -> AppointmentRead:
    """Move the buyer's appointment to another slot at the same store."""
    moved = service.reschedule(
        session=session, principal=me, appointment_id=appointment_id, starts_at=body.starts_at
    )
    return service.read(session, moved)


@router.post("/appointments/{appointment_id}/cancel", response_model=AppointmentRead)
def cancel(_: WriterGate, appointment_id: int, session: DbSession, me: CurrentPrincipal) -> AppointmentRead:
    """Cancel an appointment (the buyer, or staff of its store) and free its slot."""
    return service.read(session, service.cancel(session=session, principal=me, appointment_id=appointment_id))


@router.get("/stores/{code}/calendar", response_model=DayCalendar)
def calendar(code: str, day: date, session: DbSession, staff: CurrentStaff) -> DayCalendar:
    """A store's appointments on one day: its own staff (and HQ, admins) only."""
    found = service.day_calendar(session=session, principal=staff, store_code=code, day=day)
    return DayCalendar(store_code=code, day=day, appointments=[service.read(session, a) for a in found])

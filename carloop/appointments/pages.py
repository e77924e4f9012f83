"""Appointment pages: book from a store's slots, my appointments and notices, and the staff day calendar."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from carloop.accounts.schemas import Principal, Role
from carloop.appointments import rules, service
from carloop.appointments.api import WriterGate
from carloop.appointments.schemas import AppointmentKind, ServiceType
from carloop.clock import FIRST_MOMENT, LAST_MOMENT, utcnow
from carloop.errors import CapacityExhausted, DomainError, PermissionDenied, PolicyViolation
from carloop.network import service as network
from carloop.notices import service as notices
from carloop.ordering import service as ordering
from carloop.ordering.rules import OrderStatus
from carloop.web.deps import CurrentCustomer, CurrentStaff, DbSession, FormCustomer, FormStaff

router = APIRouter()


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


def _mine(
    request: Request,
    session: DbSession,
    customer_id: int,
    error: str = "",
    status: int = 200,
    just_booked: int | None = None,
) -> Response:
    booked = service.list_for_customer(session=session, customer_id=customer_id)
    confirmed = next((a for a in booked if a.id == just_booked), None)  # only the buyer's own
    arrived = [
        o
        for o in ordering.list_for_customer(session=session, customer_id=customer_id)
        if o.status is OrderStatus.AT_DELIVERY_CENTRE and o.delivery_store_id is not None
    ]
    return _render(
        request,
        "appointments/mine.html",
        {
            "appointments": [service.read(session, a) for a in booked],
            "arrived": [
                (o, network.get_store(session=session, store_id=o.delivery_store_id or 0)) for o in arrived
            ],
            "notices": notices.views(
                session=session, customer_id=customer_id, locale=request.state.locale, limit=10
            ),
            "error": error,
            "confirmed": service.read(session, confirmed) if confirmed is not None else None,
        },
        status,
    )


@router.get("/appointments")
def my_appointments(
    request: Request, session: DbSession, me: CurrentCustomer, booked: int | None = None
) -> Response:
    """The buyer's appointments (with a confirmation of the one just booked), cars ready for a
    delivery booking, and recent notices."""
    return _mine(request, session, me.customer_id or 0, just_booked=booked)


@router.post("/appointments/book")
def book(
    _: WriterGate,
    request: Request,
    session: DbSession,
    me: FormCustomer,
    kind: Annotated[AppointmentKind, Form()],
    store_code: Annotated[str, Form(max_length=32)],
    starts_at: Annotated[datetime, Form(ge=FIRST_MOMENT, le=LAST_MOMENT)],
    model: Annotated[str | None, Form(max_length=40)] = None,
    order_number: Annotated[str | None, Form(max_length=24)] = None,
    service_type: Annotated[ServiceType | None, Form()] = None,
) -> Response:
    """Book the chosen slot; a slot taken meanwhile shows the reason on my appointments page."""
    try:
        with session.begin_nested():
            made = service.book(
                session=session,
                customer_id=me.customer_id or 0,
                kind=kind,
                store_code=store_code,
                starts_at=starts_at,
                model=model,
                order_number=order_number,
                service_type=service_type,
            )
    except DomainError as err:
        return _mine(request, session, me.customer_id or 0, err.message, 409)
    return RedirectResponse(f"/appointments?booked={made.id}", status_code=303)


@router.post("/appointments/{appointment_id}/cancel")
def cancel(_: WriterGate, appointment_id: int, session: DbSession, me: FormCustomer) -> Response:
    """Cancel one of the buyer's appointments."""
    service.cancel(session=session, principal=me, appointment_id=appointment_id)
    return RedirectResponse("/appointments", status_code=303)


@router.get("/staff/calendar")
def staff_calendar(
    request: Request,
    session: DbSession,
    staff: CurrentStaff,
    day: date | None = None,
    store: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """The day's appointments at the staff member's own store (HQ and admins choose the store)."""
    return _calendar(request, session, staff, day, store)


@router.post("/staff/appointments/{appointment_id}/reschedule")
def staff_reschedule(
    _: WriterGate,
    appointment_id: int,
    request: Request,
    session: DbSession,
    staff: FormStaff,
    starts_at: Annotated[datetime, Form(ge=FIRST_MOMENT, le=LAST_MOMENT)],
) -> Response:
    """Move an appointment of the staff member's store to another slot (audited); a naive time is
    read as store-local (Asia/Shanghai), as the page's input gives it."""
    if starts_at.tzinfo is None:
        starts_at = starts_at.replace(tzinfo=rules.STORE_TZ)
    try:
        with session.begin_nested():
            moved = service.reschedule(
                session=session, principal=staff, appointment_id=appointment_id, starts_at=starts_at
            )
    except (PolicyViolation, CapacityExhausted) as err:
        return _calendar(request, session, staff, None, "", err.message, 409)
    return RedirectResponse(
        f"/staff/calendar?day={rules.local_day(moved.starts_at).isoformat()}", status_code=303
    )


def _calendar(
    request: Request,
    session: DbSession,
    staff: Principal,
    day: date | None,
    store: str,
    error: str = "",
    status: int = 200,
) -> Response:
    if staff.role is Role.STORE_STAFF:
        if staff.store_id is None:
            raise PermissionDenied("Your account is not bound to a store.")
        code = network.get_store(session=session, store_id=staff.store_id).code
    else:
        code = store or "BJ-DC-01"
    day = day or rules.local_day(utcnow())
    found = service.day_calendar(session=session, principal=staff, store_code=code, day=day)
    return _render(
        request,
        "appointments/calendar.html",
        {
            "store_code": code,
            "day": day,
            "appointments": [service.read(session, a) for a in found],
            "error": error,
            "can_move": staff.role is Role.STORE_STAFF,
        },
        status,
    )

"""Owner event pages: upcoming events, sign-up, waitlist and cancel; staff announce and check owners in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from carloop.accounts.models import Customer
from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.clock import FIRST_MOMENT, LAST_MOMENT, SHANGHAI, utcnow
from carloop.errors import PolicyViolation
from carloop.loyalty import meetups
from carloop.loyalty.models import EventSignup, OwnerEventKind, SignupStatus
from carloop.web.deps import CurrentPrincipal, DbSession, FormCustomer, check_csrf, require_roles

router = APIRouter()
EventStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN, Role.STORE_STAFF)]


def require_form_event_staff(
    request: Request, principal: EventStaff, csrf_token: Annotated[str, Form()]
) -> Principal:
    """Event staff submitting a page form that carries this session's anti-forgery token."""
    check_csrf(request, csrf_token)
    return principal


FormEventStaff = Annotated[Principal, Depends(require_form_event_staff)]


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


@router.get("/events")
def events_page(request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Upcoming owner events, places left, and my place (or waitlist spot) in each."""
    events = meetups.upcoming(session=session, now=utcnow())
    mine: dict[int, SignupStatus] = {}
    if principal.customer_id is not None and events:
        rows = session.execute(
            select(EventSignup.event_id, EventSignup.status).where(
                EventSignup.customer_id == principal.customer_id,
                EventSignup.event_id.in_([e.id for e in events]),
            )
        )
        mine = {int(e): s for e, s in rows}
    return _render(
        request,
        "loyalty/events.html",
        {
            "events": events,
            "mine": mine,
            "kinds": list(OwnerEventKind),
            "is_event_staff": principal.role in (Role.HQ_OPS, Role.ADMIN, Role.STORE_STAFF),
        },
    )


@router.post("/events/{event_id}/signup")
def sign_up(session: DbSession, me: FormCustomer, event_id: int) -> Response:
    """Take a place, or join the waitlist when the event is full."""
    assert me.customer_id is not None
    event = meetups.get_event(session=session, event_id=event_id)
    meetups.sign_up(session=session, event=event, customer_id=me.customer_id)
    return RedirectResponse("/events", status_code=303)


@router.post("/events/{event_id}/cancel")
def cancel(session: DbSession, me: FormCustomer, event_id: int) -> Response:
    """Give my place up; the longest-waiting owner gets it."""
    assert me.customer_id is not None
    event = meetups.get_event(session=session, event_id=event_id)
    meetups.cancel(session=session, event=event, customer_id=me.customer_id)
    return RedirectResponse("/events", status_code=303)


@router.post("/staff/events")
def announce(
    session: DbSession,
    staff: FormEventStaff,
    kind: Annotated[OwnerEventKind, Form()],
    title_zh: Annotated[str, Form(min_length=2, max_length=200)],
    title_en: Annotated[str, Form(min_length=2, max_length=200)],
    starts_at: Annotated[str, Form(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")],
    capacity: Annotated[int, Form(gt=0, le=100_000)],
    city: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    """Announce an event; the start is China Standard Time (audited)."""
    try:
        start = datetime.fromisoformat(starts_at).replace(tzinfo=SHANGHAI)
    except ValueError as err:
        raise PolicyViolation(f"No such moment: {starts_at}.") from err
    if not FIRST_MOMENT <= start <= LAST_MOMENT:  # 0001-01-01T00:00 in Shanghai is before any UTC moment
        raise PolicyViolation("This date is out of range.", field="starts_at")
    event = meetups.create_event(
        session=session,
        kind=kind,
        title_zh=title_zh,
        title_en=title_en,
        starts_at=start,
        capacity=capacity,
        city=city,
    )
    audit.record(
        session=session, principal=staff, action="event.create", target_type="owner_event", target_id=event.id
    )
    return RedirectResponse(f"/staff/events/{event.id}", status_code=303)


@router.get("/staff/events/{event_id}")
def event_staff_page(request: Request, session: DbSession, _: EventStaff, event_id: int) -> Response:
    """One event's sign-ups and waitlist, with check-in buttons."""
    event = meetups.get_event(session=session, event_id=event_id)
    signups = meetups.signups(session=session, event_id=event.id)
    names = dict(
        session.execute(
            select(Customer.id, Customer.display_name).where(
                Customer.id.in_([s.customer_id for s in signups])
            )
        ).all()
    )
    return _render(request, "loyalty/event_staff.html", {"event": event, "signups": signups, "names": names})


@router.post("/staff/events/{event_id}/checkins")
def check_in(
    session: DbSession,
    staff: FormEventStaff,
    event_id: int,
    customer_id: Annotated[int, Form(gt=0, lt=2**63)],
) -> Response:
    """Check an owner in; they earn the check-in points (audited)."""
    event = meetups.get_event(session=session, event_id=event_id)
    meetups.check_in(session=session, event=event, customer_id=customer_id)
    audit.record(
        session=session,
        principal=staff,
        action="event.checkin",
        target_type="owner_event",
        target_id=event.id,
        detail={"customer_id": customer_id},
    )
    return RedirectResponse(f"/staff/events/{event.id}", status_code=303)

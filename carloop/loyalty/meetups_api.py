"""Owner events API: upcoming events, sign up or cancel, staff announce events and check owners in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.clock import utcnow
from carloop.loyalty import meetups
from carloop.loyalty.models import EventSignup, OwnerEvent
from carloop.loyalty.schemas import CheckInCreate, OwnerEventCreate, OwnerEventRead, SignupRead
from carloop.web.deps import CurrentCustomer, CurrentPrincipal, DbSession, require_roles

router = APIRouter(tags=["owner events"])
EventStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN, Role.STORE_STAFF)]


def event_read(event: OwnerEvent) -> OwnerEventRead:
    """The API shape of an event."""
    return OwnerEventRead(
        id=event.id,
        kind=event.kind,
        title_zh=event.title_zh,
        title_en=event.title_en,
        city=event.city,
        starts_at=event.starts_at,
        capacity=event.capacity,
        places_left=max(0, event.capacity - event.taken),
    )


def _signup_read(signup: EventSignup) -> SignupRead:
    return SignupRead(event_id=signup.event_id, customer_id=signup.customer_id, status=signup.status)


@router.get("/events")
def upcoming(session: DbSession, _: CurrentPrincipal) -> list[OwnerEventRead]:
    """Events that have not started yet."""
    return [event_read(e) for e in meetups.upcoming(session=session, now=utcnow())]


@router.post("/events/{event_id}/signup")
def sign_up(session: DbSession, me: CurrentCustomer, event_id: int) -> SignupRead:
    """Take a place, or join the waitlist when the event is full."""
    assert me.customer_id is not None
    event = meetups.get_event(session=session, event_id=event_id)
    return _signup_read(meetups.sign_up(session=session, event=event, customer_id=me.customer_id))


@router.delete("/events/{event_id}/signup")
def cancel(session: DbSession, me: CurrentCustomer, event_id: int) -> SignupRead | None:
    """Give my place up; the longest-waiting owner gets it."""
    assert me.customer_id is not None
    event = meetups.get_event(session=session, event_id=event_id)
    signup = meetups.cancel(session=session, event=event, customer_id=me.customer_id)
    return _signup_read(signup) if signup is not None else None


@router.post("/staff/events", status_code=201)
def announce(session: DbSession, staff: EventStaff, body: OwnerEventCreate) -> OwnerEventRead:
    """Announce an event (audited)."""
    event = meetups.create_event(
        session=session,
        kind=body.kind,
        title_zh=body.title_zh,
        title_en=body.title_en,
        starts_at=body.starts_at,
        capacity=body.capacity,
        city=body.city,
    )
    audit.record(
        session=session, principal=staff, action="event.create", target_type="owner_event", target_id=event.id
    )
    return event_read(event)


@router.post("/staff/events/{event_id}/checkins")
def check_in(session: DbSession, staff: EventStaff, event_id: int, body: CheckInCreate) -> SignupRead:
    """Check an owner in at the event; they earn the check-in points (audited)."""
    event = meetups.get_event(session=session, event_id=event_id)
    signup = meetups.check_in(session=session, event=event, customer_id=body.customer_id)
    audit.record(
        session=session,
        principal=staff,
        action="event.checkin",
        target_type="owner_event",
        target_id=event.id,
        detail={"customer_id": body.customer_id},
    )
    return _signup_read(signup)

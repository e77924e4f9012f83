"""Owner events: sign-up with a capacity (never overbooked), a waitlist that moves up, check-in points."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carloop.errors import NotFound, PolicyViolation
from carloop.loyalty import service
from carloop.loyalty.models import EventSignup, OwnerEvent, OwnerEventKind, SignupStatus
from carloop.loyalty.rules import EarnReason

HOLDS_PLACE = (SignupStatus.CONFIRMED, SignupStatus.CHECKED_IN)


def create_event(
    *,
    session: Session,
    kind: OwnerEventKind,
    title_zh: str,
    title_en: str,
    starts_at: datetime,
    capacity: int,
    city: str = "",
) -> OwnerEvent:
    """Announce an event with a number of places."""
    if capacity <= 0:
        raise PolicyViolation("An event needs at least one place.")
    event = OwnerEvent(
        kind=kind, title_zh=title_zh, title_en=title_en, starts_at=starts_at, capacity=capacity, city=city
    )
    session.add(event)
    session.flush()
    return event


def get_event(*, session: Session, event_id: int) -> OwnerEvent:
    """An event by id."""
    event = session.get(OwnerEvent, event_id)
    if event is None:
        raise NotFound(f"No event {event_id}.")
    return event


def upcoming(*, session: Session, now: datetime) -> list[OwnerEvent]:
    """Events that have not started, soonest first."""
    query = select(OwnerEvent).where(OwnerEvent.starts_at >= now).order_by(OwnerEvent.starts_at)
    return list(session.scalars(query))


def _take_place(session: Session, event_id: int) -> bool:
    taken = session.execute(
        update(OwnerEvent)
        .where(OwnerEvent.id == event_id, OwnerEvent.taken < OwnerEvent.capacity)
        .values(taken=OwnerEvent.taken + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def _free_place(session: Session, event_id: int) -> None:
    session.execute(
        update(OwnerEvent)
        .where(OwnerEvent.id == event_id, OwnerEvent.taken > 0)
        .values(taken=OwnerEvent.taken - 1)
        .execution_options(synchronize_session=False)
    )


def _signup(session: Session, event_id: int, customer_id: int) -> EventSignup | None:
    return session.scalar(
        select(EventSignup)
        .where(EventSignup.event_id == event_id, EventSignup.customer_id == customer_id)
        .with_for_update()
    )


def sign_up(*, session: Session, event: OwnerEvent, customer_id: int) -> EventSignup:
    """Take a place if one is free, else join the waitlist; signing up twice changes nothing."""
    signup = _signup(session, event.id, customer_id)
    if signup is not None and signup.status is not SignupStatus.CANCELLED:
        return signup
    status = SignupStatus.CONFIRMED if _take_place(session, event.id) else SignupStatus.WAITLISTED
    if signup is None:
        signup = EventSignup(event_id=event.id, customer_id=customer_id, status=status)
        session.add(signup)
    else:
        signup.status = status
    session.flush()
    return signup


def cancel(*, session: Session, event: OwnerEvent, customer_id: int) -> EventSignup | None:
    """Give up a place or waitlist spot; a freed place goes to the longest-waiting owner."""
    signup = _signup(session, event.id, customer_id)
    if signup is None or signup.status is SignupStatus.CANCELLED:
        return signup
    if signup.status is SignupStatus.CHECKED_IN:
        raise PolicyViolation("You already checked in at this event.")
    held = signup.status is SignupStatus.CONFIRMED
    signup.status = SignupStatus.CANCELLED
    session.flush()
    if held:
        _free_place(session, event.id)
        _promote(session, event.id)
    return signup


def _promote(session: Session, event_id: int) -> None:
    waiting = session.scalars(
        select(EventSignup)
        .where(EventSignup.event_id == event_id, EventSignup.status == SignupStatus.WAITLISTED)
        .order_by(EventSignup.created_at, EventSignup.id)
        .limit(1)
        .with_for_update()
    ).first()
    if waiting is not None and _take_place(session, event_id):
        waiting.status = SignupStatus.CONFIRMED
        session.flush()


def check_in(*, session: Session, event: OwnerEvent, customer_id: int) -> EventSignup:
    """Staff check an owner in; only a confirmed owner can be, and earns the check-in points once."""
    signup = _signup(session, event.id, customer_id)
    if signup is None or signup.status not in HOLDS_PLACE:
        raise PolicyViolation("Only owners holding a place can check in.")
    if signup.status is SignupStatus.CONFIRMED:
        signup.status = SignupStatus.CHECKED_IN
        service.award_points(
            session=session,
            customer_id=customer_id,
            reason=EarnReason.EVENT_CHECKIN,
            key=f"{event.id}:{customer_id}",
            memo=event.title_en[:100],
        )
        session.flush()
    return signup


def signups(*, session: Session, event_id: int) -> list[EventSignup]:
    """An event's sign-ups in the order they came."""
    query = (
        select(EventSignup)
        .where(EventSignup.event_id == event_id)
        .order_by(EventSignup.created_at, EventSignup.id)
    )
    return list(session.scalars(query))

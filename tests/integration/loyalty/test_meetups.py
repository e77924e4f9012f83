"""Owner events: never overbooked under concurrency, a waitlist that moves up, check-in points once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from builders.accounts import owner
from sqlalchemy.orm import Session, sessionmaker

from carloop.errors import PolicyViolation
from carloop.loyalty import meetups, service
from carloop.loyalty.models import OwnerEvent, OwnerEventKind, SignupStatus
from carloop.loyalty.rules import EARN_RULES, EarnReason

START = datetime(2027, 5, 1, 1, tzinfo=UTC)


def _event(session: Session, capacity: int) -> OwnerEvent:
    return meetups.create_event(
        session=session,
        kind=OwnerEventKind.TRACK_DAY,
        title_zh="赛道日",
        title_en="Track day",
        starts_at=START,
        capacity=capacity,
    )


def test_the_waitlist_moves_up_when_a_place_frees(session: Session) -> None:
    a, b, c = (owner(session, f"1380013800{i}") for i in range(3))
    event = _event(session, 1)
    assert meetups.sign_up(session=session, event=event, customer_id=a).status is SignupStatus.CONFIRMED
    assert meetups.sign_up(session=session, event=event, customer_id=b).status is SignupStatus.WAITLISTED
    assert meetups.sign_up(session=session, event=event, customer_id=c).status is SignupStatus.WAITLISTED
    assert meetups.sign_up(session=session, event=event, customer_id=b).status is SignupStatus.WAITLISTED
    meetups.cancel(session=session, event=event, customer_id=a)
    statuses = {s.customer_id: s.status for s in meetups.signups(session=session, event_id=event.id)}
    assert statuses == {a: SignupStatus.CANCELLED, b: SignupStatus.CONFIRMED, c: SignupStatus.WAITLISTED}


def test_check_in_needs_a_place_and_pays_once(session: Session) -> None:
    a, b = owner(session, "13800138000"), owner(session, "13800138001")
    event = _event(session, 1)
    meetups.sign_up(session=session, event=event, customer_id=a)
    meetups.sign_up(session=session, event=event, customer_id=b)
    with pytest.raises(PolicyViolation):
        meetups.check_in(session=session, event=event, customer_id=b)
    meetups.check_in(session=session, event=event, customer_id=a)
    meetups.check_in(session=session, event=event, customer_id=a)
    assert service.balance(session=session, customer_id=a) == EARN_RULES[EarnReason.EVENT_CHECKIN].points
    with pytest.raises(PolicyViolation):
        meetups.cancel(session=session, event=event, customer_id=a)


def test_concurrent_sign_ups_never_overbook(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        owners = [owner(session, f"1390013900{i}") for i in range(8)]
        event_id = _event(session, 3).id
    start = threading.Barrier(len(owners))
    failures: list[BaseException] = []

    def join(customer_id: int) -> None:
        start.wait()
        try:
            with session_factory.begin() as session:
                event = meetups.get_event(session=session, event_id=event_id)
                meetups.sign_up(session=session, event=event, customer_id=customer_id)
        except BaseException as err:  # surfaced below
            failures.append(err)

    threads = [threading.Thread(target=join, args=(c,)) for c in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    with session_factory.begin() as session:
        statuses = [s.status for s in meetups.signups(session=session, event_id=event_id)]
        assert statuses.count(SignupStatus.CONFIRMED) == 3 and statuses.count(SignupStatus.WAITLISTED) == 5
        assert meetups.get_event(session=session, event_id=event_id).taken == 3

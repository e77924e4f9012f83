"""One buyer cannot hold every test-drive slot of a day (issue 14): a per-buyer allowance per outlet
and day, held like any other resource, so it holds under concurrency and comes back on cancel."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from carloop.appointments import rules
from carloop.appointments import service as appointments
from carloop.appointments.schemas import AppointmentKind, AppointmentStatus
from carloop.clock import utcnow
from carloop.errors import CapacityExhausted, ErrorCode
from carloop.network import service as network

from ..network.conftest import buyer, seed

LIMIT = rules.BUYER_DAY_LIMITS[AppointmentKind.TEST_DRIVE]


def slots(session: Session, days: int = 2) -> list[datetime]:
    day = (utcnow() + timedelta(days=days)).date()
    found = appointments.available_slots(
        session=session, store_code="SH-ST-01", kind=AppointmentKind.TEST_DRIVE, day=day, model="su7"
    )
    return [slot[0] for slot in found]


def book(session: Session, customer_id: int, at: datetime) -> int:
    return appointments.book(
        session=session,
        customer_id=customer_id,
        kind=AppointmentKind.TEST_DRIVE,
        store_code="SH-ST-01",
        starts_at=at,
        model="su7",
    ).id


def test_a_buyer_holds_at_most_the_policy_of_test_drives_a_day_at_an_outlet(session: Session) -> None:
    seed(session)
    network.set_demo_cars(
        session=session, store=network.get_store_by_code(session=session, code="SH-ST-01"), cars={"su7": 3}
    )
    me = buyer(session).customer_id or 0
    day = slots(session)
    assert len(day) > LIMIT + 1
    booked = [book(session, me, at) for at in day[:LIMIT]]
    with pytest.raises(CapacityExhausted) as refused:
        book(session, me, day[LIMIT])
    assert refused.value.code is ErrorCode.APPOINTMENT_LIMIT_REACHED
    assert refused.value.data["limit"] == LIMIT

    other = buyer(session, "13900139000").customer_id or 0
    book(session, other, day[LIMIT])  # the slot itself was free all along
    book(session, me, slots(session, days=3)[0])  # another day has its own allowance

    cancelled = appointments.cancel(session=session, principal=buyer(session), appointment_id=booked[0])
    assert cancelled.status is AppointmentStatus.CANCELLED
    book(session, me, day[LIMIT + 1])  # the cancelled booking gave its unit back


def test_concurrent_bookings_of_one_buyer_cannot_beat_the_limit(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        seed(session)
        store = network.get_store_by_code(session=session, code="SH-ST-01")
        network.set_demo_cars(session=session, store=store, cars={"su7": 3})
        me = buyer(session).customer_id or 0
        day = slots(session)[: LIMIT + 3]
    barrier = threading.Barrier(len(day))
    outcomes: list[str] = []

    def attempt(at: datetime) -> None:
        barrier.wait()
        try:
            with session_factory.begin() as session:
                book(session, me, at)
            outcomes.append("booked")
        except CapacityExhausted as err:
            outcomes.append(str(err.code))

    threads = [threading.Thread(target=attempt, args=(at,)) for at in day]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == sorted(["booked"] * LIMIT + ["appointment-limit-reached"] * 3)

"""Booking slots: capacity per resource, no double booking under concurrent bookers, reschedule, cancel,
staff calendars for their own store, and reminders."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Principal, Role
from carloop.appointments import service as appointments
from carloop.appointments.models import AppointmentHold
from carloop.appointments.schemas import AppointmentKind, AppointmentStatus, ServiceType
from carloop.clock import utcnow
from carloop.errors import CapacityExhausted, NotFound, PermissionDenied, PolicyViolation
from carloop.network import service as network
from carloop.notices import service as notices
from carloop.ordering.rules import OrderStatus

from ..network.conftest import advance_to, buyer, paid_order, seed, staff_of


def tomorrow() -> date:
    return (utcnow() + timedelta(days=2)).date()


def first_slot(session: Session, code: str, kind: AppointmentKind, **kw: object) -> datetime:
    slots = appointments.available_slots(session=session, store_code=code, kind=kind, day=tomorrow(), **kw)  # type: ignore[arg-type]
    return slots[0][0]


def test_a_test_drive_takes_one_demo_car_and_the_slot_fills_up(session: Session) -> None:
    seed(session)
    store = network.get_store_by_code(session=session, code="SH-ST-01")
    network.set_demo_cars(session=session, store=store, cars={"su7": 2})
    at = first_slot(session, "SH-ST-01", AppointmentKind.TEST_DRIVE, model="su7")
    ids = [buyer(session, f"1380013800{i}").customer_id or 0 for i in range(3)]
    for cid in ids[:2]:
        appointments.book(
            session=session,
            customer_id=cid,
            kind=AppointmentKind.TEST_DRIVE,
            store_code="SH-ST-01",
            starts_at=at,
            model="su7",
        )
    with pytest.raises(CapacityExhausted):
        appointments.book(
            session=session,
            customer_id=ids[2],
            kind=AppointmentKind.TEST_DRIVE,
            store_code="SH-ST-01",
            starts_at=at,
            model="su7",
        )
    free = dict(
        (s, n)
        for s, _, n in appointments.available_slots(
            session=session,
            store_code="SH-ST-01",
            kind=AppointmentKind.TEST_DRIVE,
            day=tomorrow(),
            model="su7",
        )
    )
    assert free[at] == 0 and free[at + timedelta(hours=1)] == 2


def test_test_drives_only_where_the_models_demo_car_is(session: Session) -> None:
    seed(session)
    store = network.get_store_by_code(session=session, code="SH-ST-01")
    network.set_demo_cars(session=session, store=store, cars={"su7": 1})
    at = first_slot(session, "SH-ST-01", AppointmentKind.TEST_DRIVE, model="su7")
    cid = buyer(session).customer_id or 0
    with pytest.raises(PolicyViolation, match="has no a yu7 demo car"):
        appointments.book(
            session=session,
            customer_id=cid,
            kind=AppointmentKind.TEST_DRIVE,
            store_code="SH-ST-01",
            starts_at=at,
            model="yu7",
        )
    with pytest.raises(PolicyViolation, match="does not offer"):
        appointments.book(
            session=session,
            customer_id=cid,
            kind=AppointmentKind.TEST_DRIVE,
            store_code="SH-SO-01",
            starts_at=at,
            model="su7",
        )


@pytest.mark.parametrize("cars", [1, 3])
def test_concurrent_bookers_never_double_book(session_factory: sessionmaker[Session], cars: int) -> None:
    with session_factory.begin() as s:
        seed(s)
        network.set_demo_cars(
            session=s, store=network.get_store_by_code(session=s, code="SH-ST-01"), cars={"su7": cars}
        )
        at = first_slot(s, "SH-ST-01", AppointmentKind.TEST_DRIVE, model="su7")
        customers = [buyer(s, f"139001390{i:02d}").customer_id or 0 for i in range(12)]
    barrier = threading.Barrier(len(customers))
    outcomes: list[str] = []

    def attempt(cid: int) -> None:
        barrier.wait()
        try:
            with session_factory.begin() as s:
                appointments.book(
                    session=s,
                    customer_id=cid,
                    kind=AppointmentKind.TEST_DRIVE,
                    store_code="SH-ST-01",
                    starts_at=at,
                    model="su7",
                )
            outcomes.append("booked")
        except CapacityExhausted:
            outcomes.append("full")

    threads = [threading.Thread(target=attempt, args=(cid,)) for cid in customers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("booked") == cars and outcomes.count("full") == len(customers) - cars
    with session_factory() as s:
        holds = s.scalar(
            select(func.count())
            .select_from(AppointmentHold)
            .where(AppointmentHold.starts_at == at, AppointmentHold.resource.like("car:%"))
        )
        assert holds == cars


def test_one_buyer_clicking_six_times_at_once_books_the_slot_once(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as s:
        seed(s)
        network.set_demo_cars(
            session=s, store=network.get_store_by_code(session=s, code="SH-ST-01"), cars={"su7": 3}
        )
        at = first_slot(s, "SH-ST-01", AppointmentKind.TEST_DRIVE, model="su7")
        cid = buyer(s, "13900139099").customer_id or 0
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            with session_factory.begin() as s:
                appointments.book(
                    session=s, customer_id=cid, kind=AppointmentKind.TEST_DRIVE, store_code="SH-ST-01",
                    starts_at=at, model="su7",
                )  # fmt: skip
            outcomes.append("booked")
        except CapacityExhausted:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("booked") == 1 and outcomes.count("refused") == 5


def test_a_service_job_holds_a_bay_and_a_technician_for_its_whole_length(session: Session) -> None:
    seed(session)
    outlet = network.get_store_by_code(session=session, code="SH-SO-01")
    outlet.service_bays, outlet.technicians = 3, 1
    at = first_slot(session, "SH-SO-01", AppointmentKind.SERVICE, service_type=ServiceType.REPAIR)
    cid = buyer(session).customer_id or 0
    repair = appointments.book(
        session=session,
        customer_id=cid,
        kind=AppointmentKind.SERVICE,
        store_code="SH-SO-01",
        starts_at=at,
        service_type=ServiceType.REPAIR,
    )
    assert repair.ends_at - repair.starts_at == timedelta(hours=2)
    with pytest.raises(CapacityExhausted):  # the only technician is busy until the repair ends
        appointments.book(
            session=session,
            customer_id=cid,
            kind=AppointmentKind.SERVICE,
            store_code="SH-SO-01",
            starts_at=at + timedelta(minutes=90),
            service_type=ServiceType.MAINTENANCE,
        )
    after = appointments.book(
        session=session,
        customer_id=cid,
        kind=AppointmentKind.SERVICE,
        store_code="SH-SO-01",
        starts_at=at + timedelta(hours=2),
        service_type=ServiceType.MAINTENANCE,
    )
    assert after.status is AppointmentStatus.BOOKED


def test_reschedule_moves_the_slot_and_keeps_the_old_one_when_the_new_is_taken(session: Session) -> None:
    seed(session)
    network.set_demo_cars(
        session=session, store=network.get_store_by_code(session=session, code="SH-ST-01"), cars={"su7": 1}
    )
    at = first_slot(session, "SH-ST-01", AppointmentKind.TEST_DRIVE, model="su7")
    me, other = buyer(session), buyer(session, "13900139000")
    mine = appointments.book(
        session=session,
        customer_id=me.customer_id or 0,
        kind=AppointmentKind.TEST_DRIVE,
        store_code="SH-ST-01",
        starts_at=at,
        model="su7",
    )
    theirs = appointments.book(
        session=session,
        customer_id=other.customer_id or 0,
        kind=AppointmentKind.TEST_DRIVE,
        store_code="SH-ST-01",
        starts_at=at + timedelta(hours=2),
        model="su7",
    )
    with pytest.raises(CapacityExhausted):
        appointments.reschedule(
            session=session, principal=me, appointment_id=mine.id, starts_at=theirs.starts_at
        )
    assert mine.starts_at == at
    with pytest.raises(CapacityExhausted):  # the old slot is still held by me
        appointments.book(
            session=session,
            customer_id=other.customer_id or 0,
            kind=AppointmentKind.TEST_DRIVE,
            store_code="SH-ST-01",
            starts_at=at,
            model="su7",
        )
    moved = appointments.reschedule(
        session=session, principal=me, appointment_id=mine.id, starts_at=at + timedelta(hours=1)
    )
    assert moved.starts_at == at + timedelta(hours=1)
    appointments.book(
        session=session,
        customer_id=other.customer_id or 0,
        kind=AppointmentKind.TEST_DRIVE,
        store_code="SH-ST-01",
        starts_at=at,
        model="su7",
    )
    with pytest.raises(NotFound):
        appointments.reschedule(
            session=session, principal=other, appointment_id=mine.id, starts_at=at + timedelta(hours=3)
        )
    cancelled = appointments.cancel(session=session, principal=me, appointment_id=mine.id)
    assert cancelled.status is AppointmentStatus.CANCELLED
    assert (
        appointments.cancel(session=session, principal=me, appointment_id=mine.id).status
        is AppointmentStatus.CANCELLED
    )
    third = buyer(session, "13700137000")  # ``other`` already holds their day's allowance of test drives
    appointments.book(
        session=session,
        customer_id=third.customer_id or 0,
        kind=AppointmentKind.TEST_DRIVE,
        store_code="SH-ST-01",
        starts_at=moved.starts_at,
        model="su7",
    )


def test_delivery_only_after_arrival_at_the_assigned_centre_and_once_per_order(session: Session) -> None:
    seed(session)
    me = buyer(session)
    order = paid_order(session, me.customer_id or 0)
    network.assign_delivery_centre(session=session, order=order, city="Beijing", actor=me.actor)
    at = first_slot(session, "BJ-DC-01", AppointmentKind.DELIVERY)
    book = dict(
        session=session,
        customer_id=me.customer_id or 0,
        kind=AppointmentKind.DELIVERY,
        order_number=order.number,
    )
    with pytest.raises(PolicyViolation, match="once the car has arrived"):
        appointments.book(store_code="BJ-DC-01", starts_at=at, **book)  # type: ignore[arg-type]
    advance_to(session, order, OrderStatus.AT_DELIVERY_CENTRE)
    with pytest.raises(PolicyViolation, match="assigned delivery centre"):
        appointments.book(store_code="SH-DC-01", starts_at=at, **book)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        appointments.book(
            store_code="BJ-DC-01",
            starts_at=at,
            **{**book, "customer_id": buyer(session, "13900139000").customer_id},
        )  # type: ignore[arg-type]
    slot = appointments.book(store_code="BJ-DC-01", starts_at=at, **book)  # type: ignore[arg-type]
    assert slot.order_number == order.number
    with pytest.raises(CapacityExhausted, match="already has a delivery"):
        appointments.book(store_code="BJ-DC-01", starts_at=at + timedelta(hours=1), **book)  # type: ignore[arg-type]


def test_staff_see_only_their_own_stores_calendar_and_appointments(session: Session) -> None:
    seed(session)
    network.set_demo_cars(
        session=session, store=network.get_store_by_code(session=session, code="SH-ST-01"), cars={"su7": 1}
    )
    at = first_slot(session, "SH-ST-01", AppointmentKind.TEST_DRIVE, model="su7")
    me = buyer(session)
    booked = appointments.book(
        session=session,
        customer_id=me.customer_id or 0,
        kind=AppointmentKind.TEST_DRIVE,
        store_code="SH-ST-01",
        starts_at=at,
        model="su7",
    )
    own, other = staff_of(session, "SH-ST-01"), staff_of(session, "BJ-DC-01", staff_id=2)
    day = appointments.rules.local_day(at)
    assert [
        a.id
        for a in appointments.day_calendar(session=session, principal=own, store_code="SH-ST-01", day=day)
    ] == [booked.id]
    with pytest.raises(PermissionDenied):
        appointments.day_calendar(session=session, principal=other, store_code="SH-ST-01", day=day)
    with pytest.raises(NotFound):
        appointments.get_for(session=session, principal=other, appointment_id=booked.id)
    with pytest.raises(NotFound):
        appointments.cancel(session=session, principal=other, appointment_id=booked.id)
    hq = Principal(role=Role.HQ_OPS, staff_id=3)
    assert appointments.day_calendar(session=session, principal=hq, store_code="SH-ST-01", day=day)
    appointments.cancel(session=session, principal=own, appointment_id=booked.id, reason="car in repair")
    from carloop.audit import service as audit

    assert audit.list_entries(session=session, action="appointment.cancel")[0].target_id == str(booked.id)


def test_reminders_go_out_once_through_the_sender(session: Session) -> None:
    seed(session)
    network.set_demo_cars(
        session=session, store=network.get_store_by_code(session=session, code="SH-ST-01"), cars={"su7": 1}
    )
    at = first_slot(session, "SH-ST-01", AppointmentKind.TEST_DRIVE, model="su7")
    me = buyer(session)
    appointments.book(
        session=session,
        customer_id=me.customer_id or 0,
        kind=AppointmentKind.TEST_DRIVE,
        store_code="SH-ST-01",
        starts_at=at,
        model="su7",
    )
    assert appointments.queue_reminders(session=session, now=at - timedelta(days=3)) == 0  # too early
    assert appointments.queue_reminders(session=session, now=at - timedelta(hours=20)) == 1
    assert appointments.queue_reminders(session=session, now=at - timedelta(hours=19)) == 0
    [reminder] = notices.inbox(session=session, customer_id=me.customer_id or 0, source="appointments")
    assert reminder.kind == "reminder" and reminder.subject_en.startswith("Reminder: test drive at ")
    assert "试驾" in reminder.subject_zh


def test_staff_reschedule_within_their_own_store_only_and_it_is_audited(session: Session) -> None:
    from carloop.audit import service as audit

    seed(session)
    network.set_demo_cars(
        session=session, store=network.get_store_by_code(session=session, code="SH-ST-01"), cars={"su7": 1}
    )
    at = first_slot(session, "SH-ST-01", AppointmentKind.TEST_DRIVE, model="su7")
    me = buyer(session)
    booked = appointments.book(
        session=session,
        customer_id=me.customer_id or 0,
        kind=AppointmentKind.TEST_DRIVE,
        store_code="SH-ST-01",
        starts_at=at,
        model="su7",
    )
    elsewhere = staff_of(session, "BJ-DC-01", staff_id=2)
    with pytest.raises(NotFound):
        appointments.reschedule(
            session=session, principal=elsewhere, appointment_id=booked.id, starts_at=at + timedelta(hours=1)
        )
    assert audit.list_entries(session=session, action="appointment.reschedule") == []
    own = staff_of(session, "SH-ST-01", staff_id=3)
    moved = appointments.reschedule(
        session=session, principal=own, appointment_id=booked.id, starts_at=at + timedelta(hours=1)
    )
    assert moved.starts_at == at + timedelta(hours=1)
    entries = audit.list_entries(session=session, action="appointment.reschedule")
    assert len(entries) == 1 and entries[0].target_id == str(booked.id) and entries[0].actor == own.actor
    # the buyer's own reschedule is not a staff action
    appointments.reschedule(session=session, principal=me, appointment_id=booked.id, starts_at=at)
    assert len(audit.list_entries(session=session, action="appointment.reschedule")) == 1


def test_the_delivery_appointment_is_done_once_the_order_is_delivered(session: Session) -> None:
    from carloop.appointments.handlers import EVENT_HANDLERS

    seed(session)
    me = buyer(session)
    order = paid_order(session, me.customer_id or 0)
    network.assign_delivery_centre(session=session, order=order, city="Beijing", actor=me.actor)
    advance_to(session, order, OrderStatus.AT_DELIVERY_CENTRE)
    at = first_slot(session, "BJ-DC-01", AppointmentKind.DELIVERY)
    slot = appointments.book(
        session=session,
        customer_id=me.customer_id or 0,
        kind=AppointmentKind.DELIVERY,
        order_number=order.number,
        store_code="BJ-DC-01",
        starts_at=at,
    )
    (react,) = EVENT_HANDLERS["order.delivered"]
    react(session, {"order_id": order.id})
    assert slot.status is AppointmentStatus.DONE
    react(session, {"order_id": order.id})  # the outbox may deliver an event twice
    assert slot.status is AppointmentStatus.DONE

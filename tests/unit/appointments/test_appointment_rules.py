"""Appointment rules: slot grids in store-local time, job lengths, and what a booking holds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from carloop.appointments import rules
from carloop.appointments.schemas import AppointmentKind, ServiceType
from carloop.errors import PolicyViolation

DAY = date(2026, 6, 1)
NOW = datetime(2026, 5, 30, tzinfo=UTC)


def test_test_drive_slots_are_hourly_within_local_opening_hours() -> None:
    starts = rules.slot_starts(
        DAY, opens_minute=600, closes_minute=1320, kind=AppointmentKind.TEST_DRIVE, length=timedelta(hours=1)
    )
    assert len(starts) == 12  # 10:00 .. 21:00 local
    assert starts[0] == datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing time
    assert starts[-1] == datetime(2026, 6, 1, 13, 0, tzinfo=UTC)


def test_a_repair_fits_only_where_two_hours_remain() -> None:
    length = rules.duration(AppointmentKind.SERVICE, ServiceType.REPAIR)
    assert length == timedelta(hours=2)
    starts = rules.slot_starts(
        DAY, opens_minute=510, closes_minute=1080, kind=AppointmentKind.SERVICE, length=length
    )
    assert starts[-1] + length == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # 18:00 local
    assert rules.steps(starts[0], length, AppointmentKind.SERVICE) == [
        starts[0] + timedelta(minutes=30 * i) for i in range(4)
    ]


@pytest.mark.parametrize(
    ("starts_at", "message"),
    [
        (datetime(2026, 5, 29, 2, tzinfo=UTC), "already begun"),
        (datetime(2026, 9, 1, 2, tzinfo=UTC), "days ahead"),
        (datetime(2026, 6, 1, 2, 30, tzinfo=UTC), "not a slot"),
        (datetime(2026, 6, 1, 20, 0, tzinfo=UTC), "not a slot"),  # 04:00 local, closed
    ],
)
def test_a_slot_off_the_calendar_is_refused(starts_at: datetime, message: str) -> None:
    with pytest.raises(PolicyViolation, match=message):
        rules.check_slot(
            starts_at,
            now=NOW,
            opens_minute=600,
            closes_minute=1320,
            kind=AppointmentKind.TEST_DRIVE,
            length=timedelta(hours=1),
        )


def test_bookings_hold_the_resources_of_their_kind() -> None:
    drive = rules.resource_groups(AppointmentKind.TEST_DRIVE, model="su7", demo_cars=2)
    assert [g.unit(1) for g in drive] == ["car:su7:1"]
    service = rules.resource_groups(AppointmentKind.SERVICE, service_bays=3, technicians=2)
    assert [(g.prefix, g.count) for g in service] == [("service-bay", 3), ("technician", 2)]


def test_free_units_is_the_scarcest_group_free_at_every_step() -> None:
    t0 = datetime(2026, 6, 1, 2, tzinfo=UTC)
    t1 = t0 + timedelta(minutes=30)
    groups = [rules.ResourceGroup("service-bay", 3), rules.ResourceGroup("technician", 2)]
    held = {("technician:1", t1), ("service-bay:1", t0)}
    assert rules.free_units(groups, held, [t0, t1]) == 1  # one technician free at both steps
    assert rules.free_units(groups, set(), [t0]) == 2


def test_a_reminder_is_due_once_within_a_day() -> None:
    soon = NOW + timedelta(hours=3)
    assert rules.reminder_due(soon, NOW, reminded=False)
    assert not rules.reminder_due(soon, NOW, reminded=True)
    assert not rules.reminder_due(NOW + timedelta(days=2), NOW, reminded=False)


@pytest.mark.parametrize(
    "odd",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
        datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-12))),
    ],
)
def test_times_at_the_ends_of_the_calendar_are_refused_not_crashed(odd: datetime) -> None:
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    with pytest.raises(PolicyViolation):
        rules.check_slot(
            odd,
            now=now,
            opens_minute=600,
            closes_minute=1260,
            kind=AppointmentKind.TEST_DRIVE,
            length=timedelta(hours=1),
        )

"""Pure appointment rules: slot grids, job lengths, and the resources a booking must hold.

A booking holds one unit of each resource group it needs for every grid step it covers:
a test drive holds one demo car of its model, a delivery one delivery bay, a service job one
service bay and one technician for each 30-minute step of its duration. Holding is done by
inserting rows under a unique constraint, so the rules only say *what* to hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from carloop.appointments.schemas import AppointmentKind, ServiceType
from carloop.errors import CapacityExhausted, ErrorCode, PolicyViolation

STORE_TZ = ZoneInfo("Asia/Shanghai")
STEP_MINUTES = {AppointmentKind.TEST_DRIVE: 60, AppointmentKind.DELIVERY: 60, AppointmentKind.SERVICE: 30}
SERVICE_MINUTES = {ServiceType.MAINTENANCE: 60, ServiceType.REPAIR: 120}
HORIZON_DAYS = 60  # how far ahead a slot can be booked
REMIND_BEFORE = timedelta(hours=24)
# what a reminder calls the appointment, in each language
KIND_EN = {AppointmentKind.TEST_DRIVE: "test drive", AppointmentKind.DELIVERY: "car hand-over",
           AppointmentKind.SERVICE: "service visit"}  # fmt: skip
KIND_ZH = {AppointmentKind.TEST_DRIVE: "试驾", AppointmentKind.DELIVERY: "提车",
           AppointmentKind.SERVICE: "保养维修"}  # fmt: skip
ORDER_MARK = datetime(2000, 1, 1, tzinfo=UTC)  # the "time" of a per-order hold: one delivery per order


def duration(kind: AppointmentKind, service_type: ServiceType | None = None) -> timedelta:
    """How long an appointment of this kind lasts."""
    if kind is AppointmentKind.SERVICE:
        return timedelta(minutes=SERVICE_MINUTES[service_type or ServiceType.MAINTENANCE])
    return timedelta(minutes=STEP_MINUTES[kind])


def slot_starts(
    day: date, *, opens_minute: int, closes_minute: int, kind: AppointmentKind, length: timedelta
) -> list[datetime]:
    """Every start time (UTC) on a local day where an appointment of ``length`` fits inside opening hours."""
    step = timedelta(minutes=STEP_MINUTES[kind])
    start = datetime.combine(day, time(0), STORE_TZ) + timedelta(minutes=opens_minute)
    close = datetime.combine(day, time(0), STORE_TZ) + timedelta(minutes=closes_minute)
    out = []
    at = start
    while at + length <= close:
        out.append(at.astimezone(UTC))
        at += step
    return out


def local_day(at: datetime) -> date:
    """The store-local calendar day of a moment."""
    return at.astimezone(STORE_TZ).date()


def check_slot(
    starts_at: datetime,
    *,
    now: datetime,
    opens_minute: int,
    closes_minute: int,
    kind: AppointmentKind,
    length: timedelta,
) -> datetime:
    """The slot start in UTC; ``PolicyViolation`` if it is past, too far ahead, or off the grid."""
    if starts_at.tzinfo is None:
        raise PolicyViolation("Give the slot time with its time zone.")
    try:
        at = starts_at.astimezone(UTC)
    except OverflowError:  # a moment at the very ends of the calendar
        raise PolicyViolation("That is not a slot of this store's calendar.") from None
    if at <= now:
        raise PolicyViolation("That slot has already begun.")
    if at > now + timedelta(days=HORIZON_DAYS):
        raise PolicyViolation(f"Slots can be booked up to {HORIZON_DAYS} days ahead.")
    grid = slot_starts(
        local_day(at), opens_minute=opens_minute, closes_minute=closes_minute, kind=kind, length=length
    )
    if at not in grid:
        raise PolicyViolation("That is not a slot of this store's calendar.")
    return at


@dataclass(frozen=True, slots=True)
class ResourceGroup:
    """Interchangeable units of one resource: ``car:su7`` with 2 cars, ``bay`` with 4 bays."""

    prefix: str
    count: int

    def unit(self, n: int) -> str:
        """The name of unit ``n`` (1-based)."""
        return f"{self.prefix}:{n}"


def resource_groups(
    kind: AppointmentKind,
    *,
    model: str | None = None,
    demo_cars: int = 0,
    delivery_bays: int = 0,
    service_bays: int = 0,
    technicians: int = 0,
) -> list[ResourceGroup]:
    """The resource groups a booking of this kind needs one unit of each, at every step it covers."""
    if kind is AppointmentKind.TEST_DRIVE:
        return [ResourceGroup(f"car:{model}", demo_cars)]
    if kind is AppointmentKind.DELIVERY:
        return [ResourceGroup("bay", delivery_bays)]
    return [ResourceGroup("service-bay", service_bays), ResourceGroup("technician", technicians)]


def steps(starts_at: datetime, length: timedelta, kind: AppointmentKind) -> list[datetime]:
    """The grid steps an appointment covers, from its start."""
    step = timedelta(minutes=STEP_MINUTES[kind])
    n = max(1, -(-int(length.total_seconds()) // int(step.total_seconds())))
    return [starts_at + i * step for i in range(n)]


# Policy: how many bookings of a kind one buyer may hold at one outlet on one local day. Without it
# one buyer could hold every test-drive slot of a day (issue 14). Deliveries are one per order.
BUYER_DAY_LIMITS: dict[AppointmentKind, int] = {
    AppointmentKind.TEST_DRIVE: 2,
    AppointmentKind.SERVICE: 2,
}
BUYER_PREFIX = "buyer:"
SLOT_PREFIX = "buyer-slot:"  # one unit per buyer and time step: a buyer is in one place at a time
FULL = "That slot is fully booked; choose another."
ALREADY_BOOKED = "You already have an appointment at this outlet at that time."


def day_mark(starts_at: datetime) -> datetime:
    """The moment a buyer's per-day holds are filed under: the start of the store-local day, in UTC."""
    return datetime.combine(local_day(starts_at), time(0), STORE_TZ).astimezone(UTC)


def buyer_need(
    kind: AppointmentKind,
    customer_id: int,
    starts_at: datetime,
    limits: dict[AppointmentKind, int] | None = None,
) -> tuple[ResourceGroup, list[datetime]] | None:
    """The per-buyer allowance a booking also holds one unit of (None: the kind has no limit).

    The buyer has ``limit`` units of ``buyer:<id>:<kind>`` per outlet and day; like every other
    resource they are held under the unique key, so the limit holds whatever the concurrency, and a
    cancelled booking gives its unit back.
    """
    limit = (BUYER_DAY_LIMITS if limits is None else limits).get(kind)
    if limit is None:
        return None
    return ResourceGroup(f"{BUYER_PREFIX}{customer_id}:{kind}", limit), [day_mark(starts_at)]


def buyer_slot_need(customer_id: int, times: list[datetime]) -> tuple[ResourceGroup, list[datetime]]:
    """The buyer themself, held at every step of the slot: booking the same slot twice (a double
    click, a second tab) finds this unit taken, under the same unique key as every other resource."""
    return ResourceGroup(f"{SLOT_PREFIX}{customer_id}", 1), times


def check_free(needs: list[tuple[ResourceGroup, list[datetime]]], held: set[tuple[str, datetime]]) -> None:
    """Refuse, before writing, a booking some needed group has no free unit for: the buyer's own
    limit (``appointment-limit-reached``), the order's one delivery, or the slot itself."""
    for group, times in needs:
        if free_units([group], held, times) > 0:
            continue
        if group.prefix.startswith(SLOT_PREFIX):
            raise CapacityExhausted(ALREADY_BOOKED)
        if group.prefix.startswith(BUYER_PREFIX):
            raise limit_reached(group)
        if group.prefix.startswith("order:"):
            raise CapacityExhausted("This order already has a delivery appointment.")
    for group, times in needs:
        if free_units([group], held, times) == 0:
            raise CapacityExhausted(FULL)


def limit_reached(group: ResourceGroup) -> CapacityExhausted:
    """The problem for a buyer who already holds their allowance of a kind on that day at that outlet."""
    kind = group.prefix.rsplit(":", 1)[-1]
    return CapacityExhausted(
        LIMIT_REACHED % {"limit": group.count, "kind": kind},
        code=ErrorCode.APPOINTMENT_LIMIT_REACHED,
        limit=group.count,
        kind=kind,
    )


# The problem's detail, one template (zh-CN and en in the network catalogs under the same msgid).
LIMIT_REACHED = (
    "You already hold %(limit)s %(kind)s booking(s) at this outlet on that day; "
    "cancel one or choose another day."
)


def free_units(groups: list[ResourceGroup], held: set[tuple[str, datetime]], times: list[datetime]) -> int:
    """How many more bookings fit: the scarcest group's units that are free at every step."""
    if not groups:
        return 0
    return min(
        sum(1 for n in range(1, g.count + 1) if all((g.unit(n), t) not in held for t in times))
        for g in groups
    )


def reminder_due(starts_at: datetime, now: datetime, reminded: bool) -> bool:
    """Whether a booked appointment should be reminded now (within a day of it, not yet reminded)."""
    return not reminded and now < starts_at <= now + REMIND_BEFORE

"""Shapes of appointments: kinds, statuses, and the API's request and read forms."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from carloop.clock import FIRST_MOMENT, LAST_MOMENT


class AppointmentKind(StrEnum):
    """What a buyer comes to an outlet for."""

    TEST_DRIVE = "test_drive"  # a drive in a demo car of one model
    DELIVERY = "delivery"  # the handover of the buyer's own car, in a delivery bay
    SERVICE = "service"  # maintenance or repair, in a service bay with a technician


class ServiceType(StrEnum):
    """The after-sales job, which decides how long the bay and technician are held."""

    MAINTENANCE = "maintenance"  # routine maintenance: one hour
    REPAIR = "repair"  # a repair: two hours


class AppointmentStatus(StrEnum):
    """Where an appointment stands."""

    BOOKED = "booked"  # holds its slot
    CANCELLED = "cancelled"  # released its slot
    DONE = "done"  # happened (a handover completed, a drive taken)


class AppointmentCreate(BaseModel):
    """Book a slot at an outlet."""

    model_config = ConfigDict(extra="forbid")

    kind: AppointmentKind
    store_code: str = Field(min_length=2, max_length=32, examples=["BJ-DC-01"])
    starts_at: AwareDatetime = Field(ge=FIRST_MOMENT, le=LAST_MOMENT)
    model: str | None = Field(default=None, max_length=40, examples=["su7"])  # test drives
    order_number: str | None = Field(default=None, max_length=24)  # deliveries
    service_type: ServiceType | None = None  # service


class AppointmentReschedule(BaseModel):
    """Move a booked appointment to another slot at the same outlet."""

    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime = Field(ge=FIRST_MOMENT, le=LAST_MOMENT)


class AppointmentRead(BaseModel):
    """An appointment as its buyer, or the outlet's staff, sees it."""

    id: int
    kind: AppointmentKind
    status: AppointmentStatus
    store_code: str
    store_name_en: str
    store_name_zh: str
    starts_at: datetime
    ends_at: datetime
    model: str | None
    order_number: str | None
    service_type: ServiceType | None


class SlotRead(BaseModel):
    """One slot of an outlet's calendar and how many more bookings it can take."""

    starts_at: datetime
    ends_at: datetime
    free: int


class DayCalendar(BaseModel):
    """An outlet's appointments on one local day, for its staff."""

    store_code: str
    day: date
    appointments: list[AppointmentRead]

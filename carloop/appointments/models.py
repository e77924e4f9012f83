"""Appointments and the slot holds that make double booking impossible."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.appointments.schemas import AppointmentKind, AppointmentStatus, ServiceType
from carloop.clock import utcnow
from carloop.db import Base, BigId, enum_column


class Appointment(Base):
    """A buyer's booking at an outlet: a test drive, a delivery, or a service job."""

    __tablename__ = "appointment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    kind: Mapped[AppointmentKind] = mapped_column(enum_column(AppointmentKind))
    status: Mapped[AppointmentStatus] = mapped_column(enum_column(AppointmentStatus), index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    model: Mapped[str | None] = mapped_column(String(40))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    order_number: Mapped[str | None] = mapped_column(String(24))
    service_type: Mapped[ServiceType | None] = mapped_column(enum_column(ServiceType))
    reminded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AppointmentHold(Base):
    """One resource (a demo car, a bay, a technician, an order) held for one slot.

    The unique constraint is the whole double-booking guarantee: two bookings of the same resource
    at the same time cannot both commit, whatever the concurrency, on SQLite and PostgreSQL alike.
    """

    __tablename__ = "appointment_hold"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    resource: Mapped[str] = mapped_column(String(60))
    starts_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("store_id", "resource", "starts_at", name="uq_appointment_hold_slot"),)

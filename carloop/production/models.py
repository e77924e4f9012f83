"""Production tables: plan versions, each locked order's slot and promise, moves, runs, notices, VINs."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId, enum_column
from carloop.production.triggers import TriggerKind


class PlanVersion(Base):
    """One version of the production plan; the highest version is the plan in force."""

    __tablename__ = "production_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Slot(Base):
    """A locked order's place in the plan: queue position, build week, promised window, VIN."""

    __tablename__ = "production_slots"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    number: Mapped[str] = mapped_column(String(24), index=True)
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    model: Mapped[str] = mapped_column(String(40))
    trim: Mapped[str] = mapped_column(String(40))
    options: Mapped[list[str]] = mapped_column(JSON)
    configuration: Mapped[str] = mapped_column(String(200), index=True)  # model/trim/paint/wheels
    signature: Mapped[str] = mapped_column(String(300), default="")  # the constraint codes it uses
    queued_at: Mapped[datetime]  # lock time, or the time of a post-lock configuration change
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)  # False once cancelled
    built: Mapped[bool] = mapped_column(Boolean, default=False)  # off the line: no longer re-planned
    planned_week: Mapped[int | None] = mapped_column(Integer, index=True)  # None: beyond the horizon
    promised_week: Mapped[int | None] = mapped_column(Integer)
    promised_earliest: Mapped[date | None] = mapped_column(Date)
    promised_latest: Mapped[date | None] = mapped_column(Date)
    promised_at: Mapped[datetime | None]  # when the first window was given; None: not planned yet
    first_earliest: Mapped[date | None] = mapped_column(Date)
    first_latest: Mapped[date | None] = mapped_column(Date)
    stated: Mapped[float | None] = mapped_column(Float)  # share kept stated with the first window
    vin: Mapped[str | None] = mapped_column(String(17), unique=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PromiseChange(Base):
    """A move of an order's promised window: from, to, why, and when the buyer was told."""

    __tablename__ = "production_promise_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_week: Mapped[int | None] = mapped_column(Integer)
    to_week: Mapped[int | None] = mapped_column(Integer)
    from_latest: Mapped[date | None] = mapped_column(Date)
    to_latest: Mapped[date | None] = mapped_column(Date)
    later: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(300))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("production_runs.id"))


class Run(Base):
    """One allocation run: what started it (a kind and its values), plan version, orders, moves, duration."""

    __tablename__ = "production_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    trigger_kind: Mapped[TriggerKind] = mapped_column(enum_column(TriggerKind), server_default="text")
    trigger_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    plan_version: Mapped[int] = mapped_column(Integer)
    orders: Mapped[int] = mapped_column(Integer)
    moved_earlier: Mapped[int] = mapped_column(Integer, default=0)
    moved_later: Mapped[int] = mapped_column(Integer, default=0)
    millis: Mapped[float] = mapped_column(Float, default=0.0)


class KeptRate(Base):
    """How often first windows of one kind (model, band of weeks ahead) were kept, measured daily."""

    __tablename__ = "production_kept_rates"
    __table_args__ = (UniqueConstraint("model", "band"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    model: Mapped[str] = mapped_column(String(40))
    band: Mapped[int] = mapped_column(Integer)  # rules.band: 0 (within 2 weeks) .. 4 (beyond 26)
    kept: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class VinSerial(Base):
    """The last serial number used per manufacturer, model year and plant (grows by one UPDATE)."""

    __tablename__ = "production_vin_serials"

    prefix: Mapped[str] = mapped_column(String(12), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class CarStatus(StrEnum):
    """Where a built car without a buyer stands."""

    OFFERED = "offered"  # offered to the earliest waiting order of its configuration (72 hours)
    AVAILABLE = "available"  # nobody with its configuration is waiting: sold as an inventory car
    SOLD = "sold"  # matched to an order


class InventoryCar(Base):
    """A built car whose order was cancelled: offered on to a waiting buyer, or sold from stock."""

    __tablename__ = "production_inventory"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    model: Mapped[str] = mapped_column(String(40))
    trim: Mapped[str] = mapped_column(String(40))
    options: Mapped[list[str]] = mapped_column(JSON)
    configuration: Mapped[str] = mapped_column(String(200), index=True)
    from_order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    status: Mapped[CarStatus] = mapped_column(enum_column(CarStatus), index=True)
    offered_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    offer_expires_at: Mapped[datetime | None]
    offered_to: Mapped[list[int]] = mapped_column(JSON, default=list)  # every order it was offered to
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

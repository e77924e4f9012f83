"""Tables of the store network: outlets, their demo cars, and notices sent to buyers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carloop.clock import utcnow
from carloop.db import Base, BigId
from carloop.network.schemas import StoreKind


class Store(Base):
    """A delivery centre, store, car corner or service outlet."""

    __tablename__ = "store"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[StoreKind] = mapped_column(
        Enum(StoreKind, native_enum=False, length=20, values_callable=lambda kinds: [k.value for k in kinds])
    )
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(60), index=True)
    province: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(String(200), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    opens_minute: Mapped[int] = mapped_column(Integer, default=10 * 60)  # local time, minutes after midnight
    closes_minute: Mapped[int] = mapped_column(Integer, default=21 * 60)
    delivery_bays: Mapped[int] = mapped_column(Integer, default=0)  # handovers at once, per slot
    storage_capacity: Mapped[int] = mapped_column(Integer, default=0)  # orders a centre can take at once
    service_bays: Mapped[int] = mapped_column(Integer, default=0)
    technicians: Mapped[int] = mapped_column(Integer, default=0)
    # The delivery centre a satellite (store, car corner, service outlet) belongs to; None for a hub.
    hub_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    demo_cars: Mapped[list[DemoCar]] = relationship(
        back_populates="store", order_by="DemoCar.model", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"Store(id={self.id!r}, code={self.code!r}, kind={self.kind!r})"


class DemoCar(Base):
    """How many test-drive cars of one model a store keeps."""

    __tablename__ = "store_demo_car"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    model: Mapped[str] = mapped_column(String(40))
    cars: Mapped[int] = mapped_column(Integer, default=1)

    store: Mapped[Store] = relationship(back_populates="demo_cars")

    __table_args__ = (UniqueConstraint("store_id", "model"),)


class Handover(Base):
    """A car handed to its buyer at a delivery centre, with the checklist staff completed (once per order)."""

    __tablename__ = "handover"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    vin: Mapped[str] = mapped_column(String(17))
    checklist: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(40))
    handed_over_at: Mapped[datetime] = mapped_column(default=utcnow)

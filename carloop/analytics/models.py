"""Analytics tables: anonymous funnel events and imported market sales."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.analytics.rules import Channel, Stage
from carloop.clock import utcnow
from carloop.db import Base, BigId, enum_column


class FunnelEvent(Base):
    """One step of a buyer's journey; anonymous (keyed hash, bucketed attributes, never a phone)."""

    __tablename__ = "analytics_funnel_event"
    __table_args__ = (
        UniqueConstraint("order_id", "stage"),  # order stages are recorded once (NULLs never clash)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    stage: Mapped[Stage] = mapped_column(enum_column(Stage))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    anon_id: Mapped[str] = mapped_column(String(32))  # keyed hash of the visitor's session
    # No foreign key: analytics outlives orders, and simulated launches carry synthetic ids.
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    model: Mapped[str | None] = mapped_column(String(40))
    trim: Mapped[str | None] = mapped_column(String(40))
    total_fen: Mapped[int | None] = mapped_column(BigInteger)
    city: Mapped[str | None] = mapped_column(String(60))
    province: Mapped[str | None] = mapped_column(String(60))
    city_tier: Mapped[str | None] = mapped_column(String(16))
    age_band: Mapped[str | None] = mapped_column(String(8))
    gender: Mapped[str | None] = mapped_column(String(8))
    simulated: Mapped[bool] = mapped_column(default=False)


class MarketSale(Base):
    """Monthly new-energy-vehicle sales of one brand, imported from a CSV."""

    __tablename__ = "analytics_market_sale"
    __table_args__ = (UniqueConstraint("month", "brand"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    brand: Mapped[str] = mapped_column(String(60))
    units: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(120), default="")

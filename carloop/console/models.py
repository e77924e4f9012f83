"""Console tables: which catalog version is active, and deposit policy overrides."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId


class ActiveCatalog(Base):
    """The catalog version HQ activated (one row); without it the newest version is current."""

    __tablename__ = "console_active_catalog"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    version: Mapped[str] = mapped_column(String(20))
    activated_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_by: Mapped[str] = mapped_column(String(40))


class DepositPolicyOverride(Base):
    """HQ's deposit terms for a model (``trim`` empty) or one trim, replacing the catalog's."""

    __tablename__ = "console_deposit_policy"
    __table_args__ = (UniqueConstraint("model", "trim"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    model: Mapped[str] = mapped_column(String(40))
    trim: Mapped[str] = mapped_column(String(40), default="")  # "" = every trim of the model
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    refundable_hours: Mapped[int] = mapped_column(Integer)
    auto_lock: Mapped[bool] = mapped_column(default=True)
    lock_at_payment: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(40))

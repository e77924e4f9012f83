"""Supply tables: suppliers, the staff-style accounts bound to them, confirmations, flags, API requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId


class Supplier(Base):
    """A company that delivers parts; its systems sign API requests with ``api_key`` (HMAC-SHA256)."""

    __tablename__ = "supplier"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # the parts' `supplier` in the catalog
    name_en: Mapped[str] = mapped_column(String(80))
    name_zh: Mapped[str] = mapped_column(String(80))
    api_key: Mapped[str] = mapped_column(String(64))  # shared secret: HMAC needs it in the clear
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SupplierUser(Base):
    """A staff-style account (role ``supplier``) bound to one supplier: it sees only that supplier."""

    __tablename__ = "supplier_user"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("staff.id"), unique=True)
    supplier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("supplier.id"), index=True)


class Confirmation(Base):
    """What a supplier commits to deliver of one part in one week, and the demand it answered."""

    __tablename__ = "supply_confirmation"
    __table_args__ = (UniqueConstraint("part", "week", name="uq_supply_confirmation_part_week"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("supplier.id"), index=True)
    part: Mapped[str] = mapped_column(String(40))
    week: Mapped[int] = mapped_column(Integer)  # production week number (production.rules.week_of)
    quantity: Mapped[int] = mapped_column(Integer)
    demand: Mapped[int] = mapped_column(Integer)  # firm demand when it was confirmed
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # confirmed after the week's deadline
    changes: Mapped[int] = mapped_column(Integer, default=0)  # how often it was changed since
    actor: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(200), default="")
    shortage_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("supply_shortage.id"))
    plan_version: Mapped[int | None] = mapped_column(Integer)  # the plan it capped, if it was short
    run_id: Mapped[int | None] = mapped_column(BigInteger)  # the allocation run that re-planned
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Shortage(Base):
    """A supplier's flag: it cannot deliver in full from one week until an expected recovery week."""

    __tablename__ = "supply_shortage"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("supplier.id"), index=True)
    part: Mapped[str] = mapped_column(String(40))
    from_week: Mapped[int] = mapped_column(Integer)
    recovery_week: Mapped[int] = mapped_column(Integer)  # first week of full supply again
    share: Mapped[float] = mapped_column(default=0.0)  # the share of demand it cannot deliver
    reason: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiRequest(Base):
    """A supplier system's request by idempotency key: a replay gets the stored answer back."""

    __tablename__ = "supply_api_request"
    __table_args__ = (UniqueConstraint("supplier_id", "key", name="uq_supply_api_request_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("supplier.id"))
    key: Mapped[str] = mapped_column(String(80))
    digest: Mapped[str] = mapped_column(
        String(64)
    )  # sha256 of the body: the same key with another body is refused
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)

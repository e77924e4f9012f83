"""Notices, their deliveries per channel, and each owner's preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId


class Notice(Base):
    """One message to one buyer or owner, in both languages; ``key`` makes it once per happening."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(160), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # the domain that spoke: production, network...
    order_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    order_number: Mapped[str] = mapped_column(String(24), default="")
    subject_en: Mapped[str] = mapped_column(String(200), default="")
    subject_zh: Mapped[str] = mapped_column(String(200), default="")
    body_en: Mapped[str] = mapped_column(String(1000), default="")
    body_zh: Mapped[str] = mapped_column(String(1000), default="")
    sms_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the SMS template's variables
    link: Mapped[str] = mapped_column(String(300), default="", server_default="")  # a page it is about
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoticeDelivery(Base):
    """A notice on one channel: pending until sent (or failed for good, or skipped)."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (UniqueConstraint("notice_id", "channel"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    notice_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("notices.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|sent|failed|skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    sent_at: Mapped[datetime | None]


class NoticePreference(Base):
    """How an owner wants notices: language, e-mail address, SMS and e-mail on or off."""

    __tablename__ = "notice_preferences"

    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customer.id"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    email: Mapped[str] = mapped_column(String(200), default="")
    email_on: Mapped[bool] = mapped_column(default=True)
    sms_on: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

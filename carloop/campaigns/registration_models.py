"""Pre-registrations of interest in a campaign, their phone codes, and the opening notices.

A registration is one phone's interest in one campaign (verified by an SMS code); it links to the
buyer's account when that phone signs in. At the reveal a wave queues one ``OpeningNotice`` per
registrant who asked to be told: unique per (campaign, registration), so no registrant is ever queued
twice, and sent by its own outbox event at its slot (the provider's rate).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId


class CampaignRegistration(Base):
    """One phone's registered interest in a campaign: model, city, store and channel, and whether to
    be told when orders open."""

    __tablename__ = "campaign_registrations"
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone"),
        Index("ix_campaign_registrations_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id"), index=True)
    phone: Mapped[str] = mapped_column(String(16))  # "+86" and 11 digits, verified by a code
    model_code: Mapped[str] = mapped_column(String(40))
    city: Mapped[str] = mapped_column(String(40))
    store_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("store.id"))
    channel: Mapped[str] = mapped_column(String(40), default="")  # where they heard of it
    notify: Mapped[bool] = mapped_column(default=True)  # tell me when orders open
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    customer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("customer.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    converted_at: Mapped[datetime | None]  # when it was linked to the buyer's account


class RegistrationCode(Base):
    """A one-time code sent to a phone to prove it before registering (only its keyed hash is kept)."""

    __tablename__ = "campaign_registration_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None]


class OpeningWave(Base):
    """One round of opening notices for a segment of a campaign's registrants (HQ's, or the
    automatic one at the reveal for everyone), queued in chunks that a crash can resume."""

    __tablename__ = "campaign_opening_waves"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id"), index=True)
    segment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # models / cities / channels
    per_second: Mapped[int] = mapped_column(Integer)  # the provider's rate when the wave started
    starts_at: Mapped[datetime]  # not before the reveal
    slot_start: Mapped[datetime | None]  # fixed by the first chunk: after every slot already taken
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)  # registrations up to this id are queued
    queued: Mapped[int] = mapped_column(Integer, default=0)
    queued_all_at: Mapped[datetime | None]  # every matching registrant has its notice
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(60), default="system")


class OpeningNotice(Base):
    """One registrant's opening notice: the idempotent send record (never two per registrant)."""

    __tablename__ = "campaign_opening_notices"
    __table_args__ = (
        UniqueConstraint("campaign_id", "registration_id"),
        Index("ix_campaign_opening_notices_status_due", "campaign_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id"))
    registration_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaign_registrations.id"))
    wave_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaign_opening_waves.id"), index=True)
    due_at: Mapped[datetime]  # its slot: never earlier, so the provider's rate holds
    status: Mapped[str] = mapped_column(String(10), default="queued")  # registration_rules.NoticeStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    sms_message_id: Mapped[int | None] = mapped_column(BigInteger)
    notice_id: Mapped[int | None] = mapped_column(BigInteger)  # the in-app notice, if they have an account
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

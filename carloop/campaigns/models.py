"""Campaigns, their versions, deep links, the touches they record and the orders they attribute."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId


class Campaign(Base):
    """A launch: which models (and trims) it covers, the reveal second, the early-bird perk and the end.

    ``version`` counts saved changes; every saved state is also in ``campaign_versions``.
    """

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # the slug in URLs
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    models: Mapped[list[str]] = mapped_column(JSON)  # model codes
    trims: Mapped[list[str]] = mapped_column(JSON, default=list)  # trim codes; empty: every trim
    reveal_at: Mapped[datetime] = mapped_column(index=True)  # price, deposit and Reserve visible from here
    ends_at: Mapped[datetime] = mapped_column(index=True)
    # the early-bird perk: {"kind": "first_paid"|"locked_within", "limit": N, "hours": H,
    # "title_en": ..., "title_zh": ...}; None: no perk
    perk: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    perks_taken: Mapped[int] = mapped_column(Integer, default=0)  # raced on: one conditional UPDATE
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CampaignVersion(Base):
    """One saved state of a campaign: who changed it, when, and what it then said."""

    __tablename__ = "campaign_versions"
    __table_args__ = (UniqueConstraint("campaign_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(40))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignLink(Base):
    """A deep link (and its QR code) for one channel, host or influencer, maybe with a preset car."""

    __tablename__ = "campaign_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id"), index=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)  # the token in /go/<code>
    channel: Mapped[str] = mapped_column(String(20))  # livestream, influencer, host, store, ad, ...
    source: Mapped[str] = mapped_column(String(80))  # the host's or influencer's name, or the placement
    model: Mapped[str] = mapped_column(String(40))
    trim: Mapped[str | None] = mapped_column(String(40))  # preset configuration, if any
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignTouch(Base):
    """Someone opened a deep link: the anonymous visitor, and the customer once known."""

    __tablename__ = "campaign_touches"
    __table_args__ = (
        Index("ix_campaign_touches_visitor", "visitor"),
        Index("ix_campaign_touches_customer", "customer_id", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id"), index=True)
    link_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaign_links.id"), index=True)
    visitor: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(BigInteger)  # no foreign key: claimed later
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignOrder(Base):
    """An order for one of a campaign's models while it runs: its attribution and its milestones.

    Written from the ordering domain's events (never by reading its tables), so the live view and the
    export read only this domain's rows.
    """

    __tablename__ = "campaign_orders"
    __table_args__ = (Index("ix_campaign_orders_campaign_paid", "campaign_id", "paid_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id"))
    order_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    order_number: Mapped[str] = mapped_column(String(24))
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    model: Mapped[str] = mapped_column(String(40))
    trim: Mapped[str] = mapped_column(String(40))
    first_link_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("campaign_links.id"))
    last_link_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("campaign_links.id"))
    reserved_at: Mapped[datetime] = mapped_column(default=utcnow)  # the order was created
    paid_at: Mapped[datetime | None]
    locked_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    perk_position: Mapped[int | None] = mapped_column(Integer)  # its place among the perk's winners

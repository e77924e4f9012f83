"""Points ledger, wallets, contribution score, referrals, shop products and shop orders."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carloop.clock import utcnow
from carloop.db import Base, BigId, enum_column


class PointsAccount(StrEnum):
    """Points ledger accounts; debits positive, credits negative, every entry sums to zero."""

    OWNER = "owner"  # liability: an owner's spendable points (per customer; credit balance)
    ISSUED = "issued"  # expense: points the maker granted (earn rules, compensation)
    REDEEMED = "redeemed"  # income: points spent in the shop
    EXPIRED = "expired"  # income: points that lapsed under the expiry policy


class PointsWallet(Base):
    """One row per owner, locked while points are spent so the balance never goes negative."""

    __tablename__ = "points_wallets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointsEntry(Base):
    """One balanced movement of points; append-only, unique by idempotency key."""

    __tablename__ = "points_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(30))  # earn, spend, refund, expire
    reason: Mapped[str] = mapped_column(String(40), default="")  # the earn rule, for caps and history
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)  # what the owner sees: + earned, - spent
    memo: Mapped[str] = mapped_column(String(300), default="")
    expires_at: Mapped[datetime | None]  # earn entries only: when what is left of them lapses
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    postings: Mapped[list[PointsPosting]] = relationship(back_populates="entry", order_by="PointsPosting.id")

    __table_args__ = (UniqueConstraint("idempotency_key"),)


class PointsPosting(Base):
    """One line of a points entry on one account (debit +, credit -)."""

    __tablename__ = "points_postings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("points_entries.id"), index=True)
    account: Mapped[PointsAccount] = mapped_column(enum_column(PointsAccount))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)

    entry: Mapped[PointsEntry] = relationship(back_populates="postings")


class ContributionEvent(Base):
    """One step of the non-spendable contribution score; unique by key so it counts once."""

    __tablename__ = "contribution_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    score: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Referral(Base):
    """Who referred a customer (at most one referrer each; never themselves)."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    referee_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), unique=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferralCode(Base):
    """An owner's code to hand to friends; a customer who signs up with it is their referral."""

    __tablename__ = "referral_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), unique=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Product(Base):
    """An accessory or piece of merchandise with its stock and prices."""

    __tablename__ = "shop_products"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    price_points: Mapped[int] = mapped_column(BigInteger)  # the price when paid fully in points
    price_fen: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default="0"
    )  # in cash; 0: points only
    stock: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(default=True)


class ShopOrderStatus(StrEnum):
    """Where a shop order stands."""

    AWAITING_PAYMENT = "awaiting_payment"  # points taken, stock held; the cash part is not paid yet
    PAID = "paid"  # points and cash taken, stock reserved; waiting to ship
    CANCELLED = "cancelled"  # the cash part was never paid: points and stock returned
    REFUNDED = "refunded"  # points, cash and stock returned


class ShopOrder(Base):
    """An owner's checkout in the shop."""

    __tablename__ = "shop_orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    status: Mapped[ShopOrderStatus] = mapped_column(enum_column(ShopOrderStatus))
    points_total: Mapped[int] = mapped_column(BigInteger)  # points paid
    cash_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # cash paid (or due)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]

    lines: Mapped[list[ShopOrderLine]] = relationship(back_populates="order", order_by="ShopOrderLine.id")


class ShopOrderLine(Base):
    """One product and quantity of a shop order, at the price paid."""

    __tablename__ = "shop_order_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("shop_products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    points_each: Mapped[int] = mapped_column(BigInteger)

    order: Mapped[ShopOrder] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


class OwnerEventKind(StrEnum):
    """What kind of owner event."""

    ROAD_TRIP = "road_trip"  # a group drive
    SEMINAR = "seminar"  # a technical seminar
    TRACK_DAY = "track_day"  # driving on a closed circuit
    MEETUP = "meetup"  # anything else owners gather for


class OwnerEvent(Base):
    """An owner event with a fixed number of places; ``taken`` is changed by conditional updates only."""

    __tablename__ = "owner_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[OwnerEventKind] = mapped_column(enum_column(OwnerEventKind))
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(60), default="")
    starts_at: Mapped[datetime]
    capacity: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignupStatus(StrEnum):
    """Where an owner stands for an event."""

    CONFIRMED = "confirmed"  # holds a place
    WAITLISTED = "waitlisted"  # waiting for a place to free up, first come first served
    CANCELLED = "cancelled"  # gave the place (or the waitlist spot) up
    CHECKED_IN = "checked_in"  # came; check-in points were credited


class EventSignup(Base):
    """One owner's sign-up for one event."""

    __tablename__ = "owner_event_signups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("owner_events.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    status: Mapped[SignupStatus] = mapped_column(enum_column(SignupStatus))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("event_id", "customer_id"),)

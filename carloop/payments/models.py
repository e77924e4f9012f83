"""Payments, refunds, forfeitures, received notifications and the double-entry journal."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carloop.clock import utcnow
from carloop.db import Base, BigId, enum_column
from carloop.payments.rules import Account  # re-exported: tables and callers import it from here


class PaymentStatus(StrEnum):
    """Where a payment stands with its provider."""

    PENDING = "pending"  # started; the buyer has not paid yet
    SUCCEEDED = "succeeded"  # the provider confirmed the money was taken
    CLOSED = "closed"  # abandoned or timed out; no money moved


class PaymentPurpose(StrEnum):
    """What a payment is for."""

    DEPOSIT = "deposit"  # the reservation deposit
    BALANCE = "balance"  # part or all of the remaining price, paid before handover
    SHOP = "shop"  # the cash part of a merchandise shop order


class Payment(Base):
    """One attempt to take money through a provider, for a car order or for a shop order (one of the two)."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    trade_no: Mapped[str] = mapped_column(String(40), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    shop_order_id: Mapped[int | None] = mapped_column(ForeignKey("shop_orders.id"), index=True)
    purpose: Mapped[PaymentPurpose] = mapped_column(enum_column(PaymentPurpose))
    provider: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[PaymentStatus] = mapped_column(enum_column(PaymentStatus), default=PaymentStatus.PENDING)
    provider_txn_id: Mapped[str | None] = mapped_column(String(80))
    pay_url: Mapped[str] = mapped_column(String(2000), default="")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))  # who pays (their pay page)
    return_url: Mapped[str] = mapped_column(String(500), default="")  # where the buyer goes after paying
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    refunds: Mapped[list[Refund]] = relationship(back_populates="payment", order_by="Refund.id")


class Refund(Base):
    """Money returned for a payment; ``refund_no`` is the provider-side idempotency key."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    refund_no: Mapped[str] = mapped_column(String(60), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)  # None: a shop payment
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    provider_ref: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="refunds")


class Forfeiture(Base):
    """A deposit kept by the maker because a locked order was cancelled (at most one per order)."""

    __tablename__ = "forfeitures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationLog(Base):
    """Every provider notification received, whatever became of it (applied, duplicate, rejected)."""

    __tablename__ = "payment_notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    trade_no: Mapped[str] = mapped_column(String(40), index=True, default="")
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(300), default="")
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class JournalEntry(Base):
    """One balanced movement of money; append-only, unique by idempotency key."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(30))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    memo: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    postings: Mapped[list[Posting]] = relationship(back_populates="entry", order_by="Posting.id")

    __table_args__ = (UniqueConstraint("idempotency_key"),)


class Posting(Base):
    """One line of a journal entry: an amount in fen on one account (debit +, credit -)."""

    __tablename__ = "postings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account: Mapped[Account] = mapped_column(enum_column(Account))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")


class ReconciliationDifference(Base):
    """One line where a provider's daily statement and carloop's books disagree, and what became of it."""

    __tablename__ = "reconciliation_differences"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    day: Mapped[date]  # the statement's day (Beijing time)
    kind: Mapped[str] = mapped_column(String(30))  # reconcile_rules.DifferenceKind
    trade_no: Mapped[str] = mapped_column(String(40), default="")
    refund_no: Mapped[str] = mapped_column(String(60), default="")
    provider_txn_id: Mapped[str] = mapped_column(String(80), default="")
    carloop_fen: Mapped[int | None] = mapped_column(BigInteger)
    provider_fen: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, fixed (by the run), resolved
    resolution: Mapped[str] = mapped_column(String(300), default="")
    resolved_by: Mapped[str] = mapped_column(String(80), default="")
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "provider", "day", "kind", "trade_no", "refund_no", name="uq_reconciliation_differences_line"
        ),
    )

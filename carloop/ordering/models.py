"""Orders, their transition events, edition stock and idempotency records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carloop.clock import utcnow
from carloop.db import Base, BigId, enum_column
from carloop.ordering.rules import OrderStatus


class Order(Base):
    """A buyer's order: the configuration and price it was taken at, and where it stands."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(enum_column(OrderStatus), index=True)
    model: Mapped[str] = mapped_column(String(40))
    trim: Mapped[str] = mapped_column(String(40))
    options: Mapped[list[str]] = mapped_column(JSON)
    catalog_version: Mapped[str] = mapped_column(String(20))
    quote: Mapped[dict[str, Any]] = mapped_column(JSON)  # the full price breakdown it was priced with
    total_fen: Mapped[int] = mapped_column(BigInteger)
    deposit_fen: Mapped[int] = mapped_column(BigInteger)
    refundable_hours: Mapped[int] = mapped_column(Integer)
    lock_at_payment: Mapped[bool] = mapped_column(default=False)
    edition: Mapped[str | None] = mapped_column(String(40))
    edition_number: Mapped[int | None] = mapped_column(Integer)
    delivery_store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    paid_at: Mapped[datetime | None]
    refundable_until: Mapped[datetime | None]
    locked_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Gapless per-model place in the launch queue, given when the deposit is paid (arrival order).
    queue_position: Mapped[int | None] = mapped_column(Integer)
    # Keyed hash of the buyer's verified identity number (anti-scalper limits); never the number itself.
    identity_hash: Mapped[str | None] = mapped_column(String(64))
    # The Idempotency-Key the launch intake took it with (its unique idempotency record guards it; no
    # index here, as a random-key index costs the group commit a page per order).
    intake_key: Mapped[str | None] = mapped_column(String(200))
    # Until when an unpaid reservation holds its queue place (and edition number); then it lapses.
    payment_due_at: Mapped[datetime | None]

    events: Mapped[list[OrderEvent]] = relationship(back_populates="order", order_by="OrderEvent.id")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy mapper configuration
    __table_args__ = (
        UniqueConstraint("model", "queue_position"),
        UniqueConstraint("edition", "edition_number"),
        Index("ix_orders_identity_edition", "identity_hash", "edition"),  # the per-identity edition limit
        Index("ix_orders_status_due", "status", "payment_due_at"),  # unpaid reservations that lapse
    )


class OrderEvent(Base):
    """One transition of an order: who, when, from, to, why."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(300), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    order: Mapped[Order] = relationship(back_populates="events")


class EditionStock(Base):
    """Units of a numbered limited edition; ``taken`` only grows by one conditional UPDATE."""

    __tablename__ = "edition_stock"

    edition: Mapped[str] = mapped_column(String(40), primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyRecord(Base):
    """The first answer to a request made with an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer, default=0)
    response: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("scope", "key"),)


class QueueCounter(Base):
    """The last queue position given for a model; moved by one UPDATE per group commit."""

    __tablename__ = "queue_counters"

    model: Mapped[str] = mapped_column(String(40), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class EditionReturn(Base):
    """An edition number given back by a cancellation when nobody was waiting; reused first."""

    __tablename__ = "edition_returns"

    edition: Mapped[str] = mapped_column(String(40), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)


class FamilyMember(Base):
    """A person an owner invited as family: once they accept, the only kind of buyer an edition order
    may pass to (an unconfirmed row is an invitation and counts for nothing)."""

    __tablename__ = "family_members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    relation: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]  # when the member accepted; None: invited, not (yet) consenting

    __table_args__ = (UniqueConstraint("owner_id", "member_id"),)


class OrderTransfer(Base):
    """A proposed hand-over of an order to a family member; applied only once the owner confirms."""

    __tablename__ = "order_transfers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    from_customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    to_customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]


class DepositPolicyOverride(Base):
    """HQ's deposit terms for a model (``trim`` empty) or one trim, replacing the catalog's."""

    __tablename__ = "console_deposit_policy"  # the name it had when the console owned it
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


class OrderChange(Base):
    """A post-lock configuration change the buyer confirmed: from what, to what, at which prices.

    ``key`` is the confirmation form's idempotency key: a double submit finds the first change. The
    price difference is booked once in the ledger under ``order:<id>:change:<change id>``.
    """

    __tablename__ = "order_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    key: Mapped[str] = mapped_column(String(80))
    actor: Mapped[str] = mapped_column(String(40))
    from_trim: Mapped[str] = mapped_column(String(40))
    from_options: Mapped[list[str]] = mapped_column(JSON)
    to_trim: Mapped[str] = mapped_column(String(40))
    to_options: Mapped[list[str]] = mapped_column(JSON)
    from_total_fen: Mapped[int] = mapped_column(BigInteger)
    to_total_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("order_id", "key"),)

    @property
    def difference_fen(self) -> int:
        """What the buyer owes more (positive) or less (negative) after the change."""
        return self.to_total_fen - self.from_total_fen

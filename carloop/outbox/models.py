"""Outbox rows: one per domain event, written in the transaction that caused it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId


class OutboxEvent(Base):
    """A domain event waiting to be (or already) handled by other domains."""

    __tablename__ = "outbox_events"
    # Only pending rows (partial indexes): a dispatcher's claim reads the due events without passing
    # the handled ones, which outnumber them after a bulk send (a million opening notices).
    __table_args__ = (
        Index(
            "ix_outbox_events_pending_name",
            "name",
            "available_at",
            "id",
            sqlite_where=text("handled_at IS NULL"),
            postgresql_where=text("handled_at IS NULL"),
        ),
        Index(
            "ix_outbox_events_pending_due",
            "available_at",
            "relayed_at",
            "id",
            sqlite_where=text("handled_at IS NULL"),
            postgresql_where=text("handled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(index=True)
    # When the JetStream relay had the stream's ack for it (CARLOOP_EVENT_BUS=nats://...); the
    # database poller leaves it empty and sets handled_at instead.
    relayed_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    # A handler that raised RetryLater (an outside provider is down) defers the event: not before
    # available_at, with deferrals counting how often (they never use up ``attempts``).
    available_at: Mapped[datetime | None] = mapped_column()  # indexed with the pending rows only
    deferrals: Mapped[int] = mapped_column(Integer, default=0)

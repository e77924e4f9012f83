"""What the JetStream consumers remember: events each consumer handled, and events it gave up on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId


class ProcessedEvent(Base):
    """One outbox event handled by one consumer, written in the transaction of the handlers' effects."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(60), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadLetter(Base):
    """An event a consumer's handlers failed on ``attempts`` times; it waits for `carloop events retry`."""

    __tablename__ = "event_dead_letters"
    __table_args__ = (UniqueConstraint("consumer", "event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consumer: Mapped[str] = mapped_column(String(60))
    event_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

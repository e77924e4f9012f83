"""What `carloop events status` shows: the relay's backlog, each consumer's progress and dead letters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import nats
from nats.js.errors import NotFoundError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.bus.handling import dead_letters
from carloop.bus.jetstream import BusConfig
from carloop.bus.models import ProcessedEvent
from carloop.clock import utcnow
from carloop.outbox.models import OutboxEvent


def database_status(session: Session, consumers: Iterable[str]) -> dict[str, Any]:
    """The database's side: rows waiting for the relay, events each consumer handled, dead letters."""
    waiting = (OutboxEvent.relayed_at.is_(None), OutboxEvent.handled_at.is_(None))
    unrelayed = session.scalar(select(func.count()).select_from(OutboxEvent).where(*waiting)) or 0
    oldest = session.scalar(select(func.min(OutboxEvent.created_at)).where(*waiting))
    query = select(ProcessedEvent.consumer, func.count()).group_by(ProcessedEvent.consumer)
    counts: dict[str, int] = {name: count for name, count in session.execute(query)}
    letters = dead_letters(session)
    return {
        "unrelayed": unrelayed,
        "oldest_unrelayed_seconds": round((utcnow() - oldest).total_seconds(), 1) if oldest else None,
        "processed": {name: counts.get(name, 0) for name in consumers},
        "dead_letters": [
            {
                "consumer": letter.consumer,
                "event_id": letter.event_id,
                "name": letter.name,
                "attempts": letter.attempts,
                "last_error": letter.last_error,
                "at": letter.created_at.isoformat(),
            }
            for letter in letters
        ],
    }


async def stream_status(url: str, config: BusConfig, consumers: Iterable[str]) -> dict[str, Any]:
    """The stream's side: messages held, and per durable consumer what waits, is in flight, came again."""
    nc = await nats.connect(url, name="carloop-status", allow_reconnect=False)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(config.stream)
        except NotFoundError:
            return {"stream": config.stream, "exists": False, "consumers": {}}
        found: dict[str, Any] = {}
        for name in consumers:
            try:
                consumer = await js.consumer_info(config.stream, name)
            except NotFoundError:
                found[name] = None
                continue
            found[name] = {
                "pending": consumer.num_pending,
                "in_flight": consumer.num_ack_pending,
                "redelivered": consumer.num_redelivered,
            }
        return {
            "stream": config.stream,
            "exists": True,
            "messages": info.state.messages,
            "last_seq": info.state.last_seq,
            "consumers": found,
        }
    finally:
        await nc.close()

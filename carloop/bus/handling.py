"""The database side of the bus: rows to relay, and handling an event once per consumer.

A consumer handles an event in one transaction that first records (consumer, event id) in
``processed_events`` and then runs the domain's handlers: the record and the effects commit together,
so a redelivery after a crash (before or after the ack) finds the record and changes nothing, and two
consumers racing on one redelivered event collide on the key and only one of them commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from carloop.bus.models import DeadLetter, ProcessedEvent
from carloop.clock import utcnow
from carloop.outbox.models import OutboxEvent
from carloop.outbox.service import Handler


@dataclass(frozen=True)
class Envelope:
    """An outbox event as it travels on the stream."""

    id: int
    name: str
    payload: dict[str, Any]

    def encode(self) -> bytes:
        """The message body (JSON)."""
        return json.dumps({"id": self.id, "name": self.name, "payload": self.payload}).encode()

    @classmethod
    def decode(cls, data: bytes) -> Envelope:
        """The envelope a message body carries."""
        body = json.loads(data)
        return cls(id=int(body["id"]), name=str(body["name"]), payload=dict(body["payload"]))


def subject_for(prefix: str, name: str) -> str:
    """The subject of an event type, e.g. ``carloop.events.order.delivered``."""
    return f"{prefix}.{name}"


def unrelayed(factory: sessionmaker[Session], *, limit: int) -> list[Envelope]:
    """Committed outbox rows the relay has not had an ack for, oldest first (rows the database
    poller already handled stay where they are)."""
    with factory() as session:
        rows = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.relayed_at.is_(None), OutboxEvent.handled_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(limit)
        ).all()
        return [Envelope(row.id, row.name, dict(row.payload)) for row in rows]


def mark_relayed(factory: sessionmaker[Session], ids: Sequence[int]) -> None:
    """Remember that the stream acknowledged these rows."""
    with factory.begin() as session:
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(ids), OutboxEvent.relayed_at.is_(None))
            .values(relayed_at=utcnow())
        )


def handle_once(
    factory: sessionmaker[Session],
    consumer: str,
    handlers: Mapping[str, Sequence[Handler]],
    event: Envelope,
) -> bool:
    """Run ``consumer``'s handlers for ``event`` unless it already did; True if they ran now."""
    funcs = handlers.get(event.name, ())
    if not funcs:
        return False
    try:
        with factory.begin() as session:
            if session.get(ProcessedEvent, (consumer, event.id)) is not None:
                return False
            session.add(ProcessedEvent(consumer=consumer, event_id=event.id))
            session.flush()  # a twin handling the same event waits here, then collides
            for handler in funcs:
                handler(session, event.payload)
            session.execute(  # a dead letter retried by `carloop events retry` is now handled
                delete(DeadLetter).where(DeadLetter.consumer == consumer, DeadLetter.event_id == event.id)
            )
    except IntegrityError:
        if processed(factory, consumer, event.id):
            return False
        raise
    return True


def handle_batch(
    factory: sessionmaker[Session],
    consumer: str,
    handlers: Mapping[str, Sequence[Handler]],
    events: Sequence[Envelope],
) -> list[Exception | None]:
    """Handle a fetched batch in one transaction (one commit for all); if anything in it fails, the
    batch is rolled back and handled again event by event, so only the failing events fail.
    Returns, per event, None (handled now or before, or nothing to do) or its handlers' error."""
    failed: tuple[int, Exception] | None = None  # the event whose handler raised, not run twice
    try:
        with factory.begin() as session:
            wanted = [event.id for event in events if handlers.get(event.name)]
            done = set(
                session.scalars(
                    select(ProcessedEvent.event_id).where(
                        ProcessedEvent.consumer == consumer, ProcessedEvent.event_id.in_(wanted)
                    )
                )
            )
            todo = list({e.id: e for e in events if handlers.get(e.name) and e.id not in done}.values())
            if todo:
                session.execute(
                    insert(ProcessedEvent), [{"consumer": consumer, "event_id": e.id} for e in todo]
                )
                for event in todo:
                    try:
                        for handler in handlers[event.name]:
                            handler(session, event.payload)
                    except Exception as err:
                        failed = (event.id, err)
                        raise
                session.execute(
                    delete(DeadLetter).where(
                        DeadLetter.consumer == consumer, DeadLetter.event_id.in_([e.id for e in todo])
                    )
                )
        return [None] * len(events)
    except Exception:  # one event's failure (or a twin's key): find out which, one by one
        outcomes: list[Exception | None] = []
        for event in events:
            if failed is not None and event.id == failed[0]:
                outcomes.append(failed[1])
                continue
            try:
                handle_once(factory, consumer, handlers, event)
            except Exception as err:  # reported per event
                outcomes.append(err)
            else:
                outcomes.append(None)
        return outcomes


def processed(factory: sessionmaker[Session], consumer: str, event_id: int) -> bool:
    """Whether ``consumer`` handled ``event_id``."""
    with factory() as session:
        return session.get(ProcessedEvent, (consumer, event_id)) is not None


def bury(factory: sessionmaker[Session], consumer: str, event: Envelope, attempts: int, error: str) -> None:
    """Record ``event`` as a dead letter of ``consumer`` (after its last failed attempt)."""
    with factory.begin() as session:
        found = session.scalars(
            select(DeadLetter).where(DeadLetter.consumer == consumer, DeadLetter.event_id == event.id)
        ).first()
        if found is None:
            found = DeadLetter(consumer=consumer, event_id=event.id, name=event.name, payload=event.payload)
            session.add(found)
        found.attempts = attempts
        found.last_error = error[:500]


def dead_letters(session: Session, *, consumers: Iterable[str] | None = None) -> list[DeadLetter]:
    """Dead letters, oldest first."""
    query = select(DeadLetter).order_by(DeadLetter.id)
    if consumers is not None:
        query = query.where(DeadLetter.consumer.in_(list(consumers)))
    return list(session.scalars(query).all())

"""Publish domain events with the change; dispatch them to handlers after commit.

A domain declares its events as past-tense dataclasses with a ``name`` and its reactions in an
``EVENT_HANDLERS: dict[str, list[Handler]]`` (cosmicpython's pattern). ``publish`` adds an outbox row
in the caller's transaction, so an event exists exactly when its change committed. ``dispatch``
hands each pending row to every handler in its own transaction; a handler must be idempotent
(it may run again after a crash), and a failing handler leaves the row pending with its error.
A handler whose outside provider is down raises ``RetryLater``: the event waits (doubling, up to
``MAX_DELAY_SECONDS``) and is tried again for as long as it takes, never given up.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from carloop import batch_sql
from carloop.clock import utcnow
from carloop.outbox.models import OutboxEvent

log = logging.getLogger("carloop.outbox")

Handler = Callable[[Session, Mapping[str, Any]], None]
MAX_ATTEMPTS = 10
FIRST_DELAY_SECONDS = 5
MAX_DELAY_SECONDS = 900


class RetryLater(Exception):
    """Raised by a handler whose outside provider is unavailable: try this event again later."""


def retry_delay(deferrals: int) -> timedelta:
    """How long an event waits after its ``deferrals``-th deferral: 5 s doubling, capped at 15 min."""
    return timedelta(seconds=min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** max(0, deferrals - 1)))


class DomainEvent(Protocol):
    """A dataclass with a class-level ``name``; its fields are the JSON payload."""

    name: str


def publish(*, session: Session, event: Any) -> OutboxEvent:
    """Record a domain event in the current transaction."""
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        payload = dataclasses.asdict(event)
    else:
        payload = dict(vars(event))
    row = OutboxEvent(name=event.name, payload=_jsonable(payload))
    session.add(row)
    return row


def publish_many(*, session: Session, events: Sequence[tuple[Any, datetime | None]]) -> int:
    """Record many dataclass events in one statement, each not to be handled before its time (None:
    at once); for bulk producers (a campaign's opening notices). Returns how many."""
    if not events:
        return 0
    now = utcnow()
    rows = [
        {
            "name": event.name,
            "payload": _jsonable(dataclasses.asdict(event)),
            "created_at": now,
            "available_at": available_at,
            "attempts": 0,
            "deferrals": 0,
            "last_error": "",
        }
        for event, available_at in events
    ]
    session.execute(insert(OutboxEvent), rows)
    return len(rows)


def record_many(*, session: Session, events: Sequence[Any], now: datetime | None = None) -> None:
    """Record many domain events in the current transaction with one statement (the group-commit lanes)."""
    if not events:
        return
    conn = session.connection()
    table = cast(Table, OutboxEvent.__table__)
    at = batch_sql.db_time(conn, table.c.created_at, now or utcnow())
    rows = [(event.name, batch_sql.dumps(_payload(event)), at, 0, "", 0) for event in events]
    batch_sql.insert_many(
        conn, table, ("name", "payload", "created_at", "attempts", "last_error", "deferrals"), rows
    )


_PLAIN = (str, int, float, bool, type(None))


def _payload(event: Any) -> Any:
    """An event dataclass's fields as JSON-ready values (``asdict`` only for nested values)."""
    payload = {name: getattr(event, name) for name in event.__dataclass_fields__}
    if all(isinstance(v, _PLAIN) for v in payload.values()):
        return payload
    return _jsonable(dataclasses.asdict(event))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def pending(*, session: Session, limit: int = 100, now: datetime | None = None) -> Sequence[OutboxEvent]:
    """Events not yet handled and not waiting, oldest first."""
    now = now or utcnow()
    query = (
        select(OutboxEvent)
        .where(
            OutboxEvent.handled_at.is_(None),
            OutboxEvent.relayed_at.is_(None),  # the JetStream consumers handle those
            OutboxEvent.attempts < MAX_ATTEMPTS,
            or_(OutboxEvent.available_at.is_(None), OutboxEvent.available_at <= now),
        )
        .order_by(OutboxEvent.id)
        .limit(limit)
    )
    return session.scalars(query).all()


def dispatch(
    factory: sessionmaker[Session],
    handlers: Mapping[str, Sequence[Handler]],
    *,
    limit: int = 100,
    now: datetime | None = None,
) -> int:
    """Run handlers for pending events, one transaction per event; returns how many were handled."""
    with factory() as reader:
        rows = pending(session=reader, limit=limit, now=now)
        batch = [(row.id, row.name, dict(row.payload)) for row in rows]
    handled = 0
    for event_id, name, payload in batch:
        try:
            with factory.begin() as session:
                row = session.get(OutboxEvent, event_id, with_for_update=True)
                if row is None or row.handled_at is not None:
                    continue
                for handler in handlers.get(name, ()):
                    handler(session, payload)
                row.handled_at = utcnow()
                row.attempts += 1
            handled += 1
        except RetryLater as later:
            log.warning("outbox event %s (%s) deferred: %s", event_id, name, later)
            with factory.begin() as session:
                row = session.get(OutboxEvent, event_id)
                if row is not None:
                    row.deferrals += 1
                    row.available_at = (now or utcnow()) + retry_delay(row.deferrals)
                    row.last_error = f"deferred: {later}"[:500]
        except Exception as err:  # a handler's failure must not stop the others
            log.exception("outbox event %s (%s) failed", event_id, name)
            with factory.begin() as session:
                row = session.get(OutboxEvent, event_id)
                if row is not None:
                    row.attempts += 1
                    row.last_error = f"{type(err).__name__}: {err}"[:500]
    return handled

"""Publish domain events with the change; dispatch them to handlers after commit.

A domain declares its events as past-tense dataclasses with a ``name`` and its reactions in an
``EVENT_HANDLERS: dict[str, list[Handler]]`` (cosmicpython's pattern). ``publish`` adds an outbox row
in the caller's transaction, so an event exists exactly when its change committed. ``dispatch``
hands each pending row to every handler in its own transaction; a handler must be idempotent
(it may run again after a crash), and a failing handler leaves the row pending with its error.
A handler whose outside provider is down raises ``RetryLater``: the event waits (doubling, up to
``MAX_DELAY_SECONDS``) and is tried again for as long as it takes, never given up.

A bulk producer's handler may also be a ``BatchHandler``: ``dispatch`` then claims up to its
``batch_size`` events at once (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so dispatchers never wait on
each other's batches; SQLite's one writer takes them in turn) and hands them over in one transaction;
the handler names the events it could not finish, which wait as a ``RetryLater`` would.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, cast, runtime_checkable

from sqlalchemy import Table, insert, select, update
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


@runtime_checkable
class BatchHandler(Protocol):
    """A handler that also takes many events of its name in one transaction."""

    batch_size: int  # events at most in one transaction (how many a crash may leave to redo)

    def __call__(self, session: Session, payload: Mapping[str, Any]) -> None:
        """Handle one event (the JetStream consumers and the single path)."""
        ...

    def handle_many(
        self, session: Session, events: Sequence[tuple[int, Mapping[str, Any]]]
    ) -> Collection[int]:
        """Handle ``(event id, payload)`` pairs; the ids of events to try again later."""
        ...


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


def _waiting() -> Any:
    return (
        OutboxEvent.handled_at.is_(None),
        OutboxEvent.relayed_at.is_(None),  # the JetStream consumers handle those
        OutboxEvent.attempts < MAX_ATTEMPTS,
    )


def _due_now(query: Any, now: datetime, limit: int) -> list[Any]:
    """``query``'s waiting events that are due, as two reads along the pending-only indexes: those
    due at once (no ``available_at``) oldest first, then those whose time has come in order of that
    time. Neither passes handled rows, nor (the second) rows whose time is still to come."""
    query = query.where(*_waiting())
    at_once = query.where(OutboxEvent.available_at.is_(None)).order_by(OutboxEvent.id).limit(limit)
    timed = (
        query.where(OutboxEvent.available_at <= now)
        .order_by(OutboxEvent.available_at, OutboxEvent.id)
        .limit(limit)
    )
    return [at_once, timed]


def pending(
    *,
    session: Session,
    limit: int = 100,
    now: datetime | None = None,
    besides: Collection[str] = (),
    timed: Collection[str] | None = None,
) -> Sequence[OutboxEvent]:
    """Events not yet handled and not waiting, oldest first (none named in ``besides``). With
    ``timed``, events given a time (deferred, or published for later) only of those names: the
    dispatcher's own handlers, so a backlog of another path's timed events (a million opening
    notices, which go in batches) is never read here."""
    query = select(OutboxEvent)
    if besides:
        query = query.where(OutboxEvent.name.not_in(list(besides)))
    at_once, timed_read = _due_now(query, now or utcnow(), limit)
    # name by name (each read walks its name's due times; SQLite would walk every name's otherwise)
    reads = [at_once] if timed is not None else [at_once, timed_read]
    reads += [timed_read.where(OutboxEvent.name == name) for name in timed or ()]
    found = {row.id: row for read in reads for row in session.scalars(read)}
    return [found[event_id] for event_id in sorted(found)[:limit]]


def dispatch(
    factory: sessionmaker[Session],
    handlers: Mapping[str, Sequence[Handler]],
    *,
    limit: int = 100,
    now: datetime | None = None,
) -> int:
    """Run handlers for pending events, one transaction per event (per batch of up to ``BATCH`` for a
    batch handler's events); returns how many were handled."""
    batched = {
        name: found[0]
        for name, found in handlers.items()
        if len(found) == 1 and isinstance(found[0], BatchHandler)
    }
    handled = 0
    for name, batch_handler in batched.items():
        while handled < limit and (
            got := _dispatch_batch(factory, name, batch_handler, min(batch_handler.batch_size, limit), now)
        ):
            handled += got
    with factory() as reader:
        own = [name for name in handlers if name not in batched]
        rows = pending(session=reader, limit=limit, now=now, besides=batched, timed=own)
        batch = [(row.id, row.name, dict(row.payload)) for row in rows]
    for event_id, name, payload in batch:
        try:
            with factory.begin() as session:
                row = session.get(OutboxEvent, event_id, with_for_update={"skip_locked": True})
                if row is None or row.handled_at is not None:  # handled, or another dispatcher has it
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


def _dispatch_batch(
    factory: sessionmaker[Session], name: str, handler: BatchHandler, size: int, now: datetime | None
) -> int:
    """Claim up to ``size`` due events of ``name`` nobody else holds and hand them to ``handler`` in
    one transaction; how many were handled (0: none due)."""
    ids: list[int] = []
    try:
        with factory.begin() as session:
            at = now or utcnow()
            claimed = _claim(session, name, size, at)
            if not claimed:
                return 0
            ids = [row.id for row in claimed]
            later = set(handler.handle_many(session, [(row.id, row.payload) for row in claimed]))
            done = [event_id for event_id in ids if event_id not in later]
            if done:
                session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_(done))
                    .values(handled_at=utcnow(), attempts=OutboxEvent.attempts + 1)
                )
            _defer(session, [(row.id, row.deferrals) for row in claimed if row.id in later], at, "deferred")
            return len(done)
    except RetryLater as exc:
        log.warning("outbox batch of %s %s events deferred: %s", len(ids), name, exc)
        with factory.begin() as session:
            rows = session.execute(
                select(OutboxEvent.id, OutboxEvent.deferrals).where(OutboxEvent.id.in_(ids))
            )
            _defer(session, [(row.id, row.deferrals) for row in rows], now or utcnow(), f"deferred: {exc}")
        return 0
    except Exception as err:  # a batch's failure must not stop the other events
        log.exception("outbox batch of %s %s events failed", len(ids), name)
        with factory.begin() as session:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(ids))
                .values(attempts=OutboxEvent.attempts + 1, last_error=f"{type(err).__name__}: {err}"[:500])
            )
        return 0


def _claim(session: Session, name: str, size: int, now: datetime) -> list[Any]:
    """Lock up to ``size`` due events of ``name`` that no other dispatcher holds (``SKIP LOCKED`` on
    PostgreSQL; SQLite's one writer holds them all); (id, payload, deferrals) rows."""
    query = select(OutboxEvent.id, OutboxEvent.payload, OutboxEvent.deferrals).where(OutboxEvent.name == name)
    claimed: list[Any] = []
    for read in _due_now(query, now, size):
        if len(claimed) >= size:
            break
        claimed += session.execute(read.limit(size - len(claimed)).with_for_update(skip_locked=True)).all()
    return claimed


def _defer(session: Session, rows: Sequence[tuple[int, int]], now: datetime, why: str) -> None:
    """Defer events (id, deferrals so far), each by its own doubling delay."""
    by_count: dict[int, list[int]] = {}
    for event_id, deferrals in rows:
        by_count.setdefault(deferrals + 1, []).append(event_id)
    for count, event_ids in by_count.items():
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(event_ids))
            .values(deferrals=count, available_at=now + retry_delay(count), last_error=why[:500])
        )

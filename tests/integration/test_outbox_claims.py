"""What a dispatcher claims: due events only, never a handled one, in order of their time; and the
reads go along the pending-only indexes (a million handled rows are never walked)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from carloop.clock import utcnow
from carloop.outbox import service as outbox
from carloop.outbox.models import OutboxEvent


@dataclass(frozen=True)
class Tick:
    name: ClassVar[str] = "test.tick"
    n: int


@dataclass(frozen=True)
class Other:
    name: ClassVar[str] = "test.other"
    n: int


class Collect:
    """A batch handler that remembers what it was given."""

    batch_size = 4

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __call__(self, session: Session, payload: Mapping[str, Any]) -> None:
        self.seen.append(int(payload["n"]))

    def handle_many(self, session: Session, events: Sequence[tuple[int, Mapping[str, Any]]]) -> list[int]:
        self.seen += [int(payload["n"]) for _, payload in events]
        return []


def _world(factory: sessionmaker[Session], now: datetime) -> None:
    """Ticks 0-9 handled long ago, 10-19 due (times in the past, newest first by id), 20-29 in a
    minute, 30 without a time; one ``Other`` without a time."""
    with factory.begin() as session:
        outbox.publish_many(
            session=session,
            events=[
                *[(Tick(n), now - timedelta(seconds=100 - n)) for n in range(10)],
                *[(Tick(n), now - timedelta(seconds=n - 9)) for n in range(10, 20)],
                *[(Tick(n), now + timedelta(minutes=1)) for n in range(20, 30)],
                (Tick(30), None),
                (Other(1), None),
            ],
        )
        session.flush()
        ticks = session.execute(
            select(OutboxEvent.id, OutboxEvent.payload).where(OutboxEvent.name == Tick.name)
        )
        handled = [row.id for row in ticks if row.payload["n"] < 10]
        session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(handled)).values(handled_at=now))


def test_the_batch_claim_takes_due_events_once_in_order_of_their_time_never_a_handled_one(
    session_factory: sessionmaker[Session],
) -> None:
    now = utcnow()
    _world(session_factory, now)
    ticks = Collect()
    handlers: dict[str, list[outbox.Handler]] = {Tick.name: [ticks]}
    assert outbox.dispatch(session_factory, handlers, now=now) == 11 + 1  # and Other without handler
    assert ticks.seen == [30, *range(19, 9, -1)]  # at once first, then by time (not by id)
    assert outbox.dispatch(session_factory, handlers, now=now) == 0  # the future ones wait
    assert outbox.dispatch(session_factory, handlers, now=now + timedelta(minutes=2)) == 10
    assert ticks.seen[11:] == list(range(20, 30))
    assert outbox.dispatch(session_factory, handlers, now=now + timedelta(minutes=3)) == 0
    assert len(ticks.seen) == len(set(ticks.seen)) == 21  # 0-9 were handled before: never again


def test_a_dispatcher_leaves_timed_events_it_has_no_handler_for(
    session_factory: sessionmaker[Session],
) -> None:
    """A deferred or scheduled event of a name this dispatcher does not handle waits for one that does
    (it used to be marked handled with nothing run)."""
    now = utcnow()
    _world(session_factory, now)
    ticks = Collect()
    assert outbox.dispatch(session_factory, {Tick.name: [ticks]}, now=now) == 11 + 1
    with session_factory() as session:
        other = session.scalars(select(OutboxEvent).where(OutboxEvent.name == Other.name)).one()
    assert other.handled_at is not None  # without a time and without handlers: done, as before

    with session_factory.begin() as session:
        outbox.publish_many(session=session, events=[(Other(2), now - timedelta(seconds=1))])
    assert outbox.dispatch(session_factory, {Tick.name: [ticks]}, now=now) == 0
    seen: list[int] = []
    assert outbox.dispatch(session_factory, {Other.name: [lambda s, p: seen.append(p["n"])]}, now=now) == 1
    assert seen == [2]


def test_the_claims_read_along_the_pending_indexes(engine: Engine) -> None:
    """SQLite's plans name the partial indexes (PostgreSQL's planner picks by its statistics)."""
    if engine.dialect.name != "sqlite":
        return
    now = utcnow()
    claim = select(OutboxEvent.id).where(OutboxEvent.name == Tick.name)
    generic = select(OutboxEvent.id).where(OutboxEvent.name.not_in([Tick.name]))
    reads = [
        *outbox._due_now(claim, now, 200),
        outbox._due_now(generic, now, 100)[0],
        outbox._due_now(generic, now, 100)[1].where(OutboxEvent.name == Other.name),
    ]
    with engine.connect() as conn:
        plans = [
            " ".join(
                str(row[-1])
                for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + str(read.compile(engine, compile_kwargs={"literal_binds": True}))
                )
            )
            for read in reads
        ]
    assert "ix_outbox_events_pending_name (name=? AND available_at=?)" in plans[0]
    assert "ix_outbox_events_pending_name (name=? AND available_at<?)" in plans[1]
    assert "ix_outbox_events_pending_due (available_at=? AND relayed_at=?)" in plans[2]
    assert "ix_outbox_events_pending_name (name=? AND available_at<?)" in plans[3]

"""``carloop bench events``: the JetStream bus's own throughput and lag on this machine.

What is measured: outbox rows relayed to a fresh stream (publish with the row id as ``Nats-Msg-Id``,
wait for the ack, mark the row) and handled by ``consumers`` durable consumers, each event in one
transaction per consumer that writes its ``processed_events`` row. The handlers themselves do nothing
else, so the figures are the bus's cost per event, not a domain's (loyalty or analytics add their own
queries on top). Two phases: a backlog of ``events`` rows drained from a standing start (events/s),
then ``rate`` events a second committed for ``seconds`` seconds while the bus runs (lag from the row's
commit to the last consumer's commit, p50/p99).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import nats
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.bench.db import bench_database, drop_bench_database
from carloop.bus.jetstream import BusConfig
from carloop.bus.models import ProcessedEvent
from carloop.bus.runtime import EventBus
from carloop.clock import utcnow
from carloop.db import make_engine, make_session_factory
from carloop.outbox.models import OutboxEvent
from carloop.settings import Settings

NAME = "bench.ping"


def _noop(session: Session, payload: Mapping[str, Any]) -> None:
    """A handler with no work of its own: the bus's cost is what remains."""


def _insert(factory: sessionmaker[Session], count: int, start: int) -> None:
    rows = [
        {"name": NAME, "payload": {"n": n}, "attempts": 0, "last_error": ""}
        for n in range(start, start + count)
    ]
    with factory.begin() as session:
        session.execute(insert(OutboxEvent), rows)


def _handled(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(ProcessedEvent)) or 0)


def _wait(factory: sessionmaker[Session], target: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _handled(factory) < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {_handled(factory)} of {target} handlings after {timeout:.0f} s")
        time.sleep(0.05)


def _spans(factory: sessionmaker[Session], ids: list[int]) -> tuple[datetime, dict[int, datetime]]:
    """The last relay mark of ``ids``, and each event's last handling (over every consumer)."""
    with factory() as session:
        last_relay = session.scalar(select(func.max(OutboxEvent.relayed_at)).where(OutboxEvent.id.in_(ids)))
        done = session.execute(
            select(ProcessedEvent.event_id, func.max(ProcessedEvent.processed_at))
            .where(ProcessedEvent.event_id.in_(ids))
            .group_by(ProcessedEvent.event_id)
        )
        handled = {int(event_id): at for event_id, at in done}
    assert last_relay is not None
    return last_relay, handled


def _ids(factory: sessionmaker[Session], after: int = 0) -> list[int]:
    with factory() as session:
        return list(
            session.scalars(select(OutboxEvent.id).where(OutboxEvent.id > after).order_by(OutboxEvent.id))
        )


def _created(factory: sessionmaker[Session], ids: list[int]) -> dict[int, datetime]:
    with factory() as session:
        rows = session.execute(select(OutboxEvent.id, OutboxEvent.created_at).where(OutboxEvent.id.in_(ids)))
        return {int(i): at for i, at in rows}


def _produce(factory: sessionmaker[Session], rate: int, seconds: float, start: int) -> int:
    """Commit ``rate`` events a second in 20 ms ticks; returns how many were committed."""
    tick = 0.02
    per_tick = max(1, round(rate * tick))
    made = 0
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        _insert(factory, per_tick, start + made)
        made += per_tick
        time.sleep(max(0.0, tick * (made / per_tick) - (time.monotonic() - began)))
    return made


def _drop_stream(url: str, stream: str) -> None:
    async def drop() -> None:
        nc = await nats.connect(url)
        try:
            await nc.jetstream().delete_stream(stream)
        finally:
            await nc.close()

    asyncio.run(drop())


def run_events(
    *,
    nats_url: str,
    database_url: str | None,
    events: int,
    rate: int,
    seconds: float,
    consumers: int,
    interval: float,
) -> dict[str, Any]:
    """Both phases on a fresh database and stream; the report's figures."""
    workdir = Path(tempfile.mkdtemp(prefix="carloop-bench-events-"))
    url = bench_database(database_url, workdir, "events")
    engine = make_engine(Settings(environment="development", database_url=url))
    factory = make_session_factory(engine)
    tag = uuid.uuid4().hex[:8]
    config = BusConfig(stream=f"BENCH_{tag}", prefix=f"bench{tag}.events")
    domains = {f"bench{i}": {NAME: [_noop]} for i in range(consumers)}
    bus = EventBus(nats_url, factory, config, domains, interval=interval)
    try:
        _insert(factory, events, 0)
        backlog = _ids(factory)
        began = utcnow()
        bus.start()
        _wait(factory, events * consumers, timeout=600)
        last_relay, handled = _spans(factory, backlog)
        relay_s = (last_relay - began).total_seconds()
        handle_s = (max(handled.values()) - began).total_seconds()

        produced = _produce(factory, rate, seconds, events)
        _wait(factory, (events + produced) * consumers, timeout=600)
        steady = _ids(factory, after=backlog[-1])
        _, steady_handled = _spans(factory, steady)
        created = _created(factory, steady)
        lags = sorted((steady_handled[i] - created[i]).total_seconds() * 1000 for i in steady)
    finally:
        bus.stop()
        engine.dispose()
        drop_bench_database(url)
        _drop_stream(nats_url, config.stream)
    quantiles = statistics.quantiles(lags, n=100, method="inclusive")
    return {
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "consumers": consumers,
        "relay_interval_s": interval,
        "backlog_events": events,
        "relayed_per_s": round(events / relay_s, 1),
        "handled_per_s": round(events / handle_s, 1),
        "handlings_per_s": round(events * consumers / handle_s, 1),
        "steady_rate_per_s": rate,
        "steady_events": produced,
        "lag_ms_p50": round(quantiles[49], 1),
        "lag_ms_p99": round(quantiles[98], 1),
        "lag_ms_max": round(lags[-1], 1),
        "measures": "relay publish+ack+mark and one transaction per consumer with its processed_events row;"
        " handlers do no domain work",
    }


__all__ = ["run_events"]

"""Outbox events on NATS JetStream: the relay publishes each row once, consumers handle each event once."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import nats
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from carloop.bus.handling import Envelope, dead_letters, handle_once
from carloop.bus.jetstream import BusConfig, consume, ensure_consumer, ensure_stream, relay_once
from carloop.bus.models import ProcessedEvent
from carloop.outbox.models import OutboxEvent
from carloop.outbox.service import Handler, publish


@dataclass
class Happened:
    n: int
    name: ClassVar[str] = "thing.happened"


@dataclass
class Done:
    of: int
    name: ClassVar[str] = "effect.done"


def effect(session: Session, payload: Mapping[str, Any]) -> None:
    """A handler whose effect is a row in the handler's transaction (another outbox row)."""
    publish(session=session, event=Done(of=int(payload["n"])))


def effects(factory: sessionmaker[Session]) -> list[int]:
    with factory() as session:
        rows = session.scalars(select(OutboxEvent).where(OutboxEvent.name == Done.name)).all()
        return sorted(int(r.payload["of"]) for r in rows)


def happen(factory: sessionmaker[Session], count: int) -> None:
    with factory.begin() as session:
        for n in range(count):
            publish(session=session, event=Happened(n=n))


def unrelayed(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        query = select(func.count()).select_from(OutboxEvent).where(OutboxEvent.relayed_at.is_(None))
        return int(session.scalar(query.where(OutboxEvent.name == Happened.name)) or 0)


async def _relay_all(factory: sessionmaker[Session], url: str, bus: BusConfig) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, bus)
        while await relay_once(factory, js, bus):
            pass
    finally:
        await nc.close()


async def _consume_until(
    factory: sessionmaker[Session],
    url: str,
    bus: BusConfig,
    workers: Sequence[tuple[str, Mapping[str, Sequence[Handler]]]],
    done: Callable[[], bool],
    *,
    batch: int = 20,
    seen: list[list[int]] | None = None,
) -> None:
    """Run one consumer per entry of ``workers`` (each on its own connection) until ``done()``."""
    on = threading.Event()
    on.set()
    connections = [await nats.connect(url) for _ in workers]
    tasks = []
    for index, ((durable, handlers), nc) in enumerate(zip(workers, connections, strict=True)):
        js = nc.jetstream()
        await ensure_consumer(js, bus, durable)

        async def note(event: Envelope, index: int = index) -> None:
            if seen is not None:
                seen[index].append(event.id)

        tasks.append(
            asyncio.create_task(
                consume(factory, js, bus, durable, handlers, running=on.is_set, batch=batch, on_handled=note)
            )
        )
    try:
        for _ in range(1200):  # a safety net for a broken build, not a measurement
            if await asyncio.to_thread(done):
                break
            await asyncio.sleep(0.05)
    finally:
        on.clear()
        await asyncio.gather(*tasks)
        for nc in connections:
            await nc.close()


async def _stream_messages(url: str, bus: BusConfig) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(bus.stream)).state.messages)
    finally:
        await nc.close()


class Crash(Exception):
    pass


def test_a_relay_that_crashes_before_marking_republishes_and_jetstream_keeps_one_message_per_row(
    session_factory: sessionmaker[Session], nats_url: str, bus: BusConfig
) -> None:
    happen(session_factory, 5)

    def crash(ids: list[int]) -> None:
        raise Crash(ids)

    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            await ensure_stream(js, bus)
            with pytest.raises(Crash):
                await relay_once(session_factory, js, bus, before_mark=crash)
            assert unrelayed(session_factory) == 5  # published, acked, but not marked
            assert await relay_once(session_factory, js, bus) == 5  # the restarted relay publishes again
            assert await relay_once(session_factory, js, bus) == 0
        finally:
            await nc.close()

    asyncio.run(scenario())
    assert unrelayed(session_factory) == 0
    assert asyncio.run(_stream_messages(nats_url, bus)) == 5


def test_a_failing_handler_is_redelivered_and_its_effect_happens_once(
    session_factory: sessionmaker[Session], nats_url: str, bus: BusConfig
) -> None:
    calls: list[int] = []

    def flaky(session: Session, payload: Mapping[str, Any]) -> None:
        calls.append(int(payload["n"]))
        effect(session, payload)  # written, then rolled back with the failure
        if len(calls) == 1:
            raise RuntimeError("the first attempt dies")

    happen(session_factory, 1)
    asyncio.run(_relay_all(session_factory, nats_url, bus))
    handlers = {Happened.name: [flaky]}
    asyncio.run(
        _consume_until(
            session_factory, nats_url, bus, [("flaky", handlers)], lambda: effects(session_factory) == [0]
        )
    )
    assert calls == [0, 0]
    assert effects(session_factory) == [0]
    # the ack got lost after the commit: the redelivered event finds its record and changes nothing
    with session_factory() as session:
        row = session.scalars(select(OutboxEvent).where(OutboxEvent.name == Happened.name)).one()
        event = Envelope(row.id, row.name, dict(row.payload))
    assert handle_once(session_factory, "flaky", handlers, event) is False
    assert calls == [0, 0] and effects(session_factory) == [0]


def test_an_event_that_keeps_failing_becomes_a_dead_letter_after_max_attempts(
    session_factory: sessionmaker[Session], nats_url: str, bus: BusConfig
) -> None:
    calls: list[int] = []

    def broken(session: Session, payload: Mapping[str, Any]) -> None:
        calls.append(int(payload["n"]))
        raise ValueError("no such store")

    happen(session_factory, 1)
    asyncio.run(_relay_all(session_factory, nats_url, bus))

    def buried() -> bool:
        with session_factory() as session:
            return bool(dead_letters(session))

    asyncio.run(
        _consume_until(session_factory, nats_url, bus, [("broken", {Happened.name: [broken]})], buried)
    )
    with session_factory() as session:
        (letter,) = dead_letters(session)
        assert (letter.consumer, letter.name, letter.attempts) == ("broken", Happened.name, bus.max_attempts)
        assert letter.last_error == "ValueError: no such store"
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 0
    assert calls == [0] * bus.max_attempts
    shown = _events_status(session_factory, nats_url, bus)
    assert shown["bus"] == nats_url and shown["stream"]["messages"] == 1
    assert [(d["consumer"], d["event_id"], d["attempts"]) for d in shown["dead_letters"]] == [
        ("broken", letter.event_id, bus.max_attempts)
    ]
    # fixed, the dead letter is handled once and disappears with the handling
    assert handle_once(session_factory, "broken", {Happened.name: [effect]}, _envelope(letter)) is True
    with session_factory() as session:
        assert dead_letters(session) == []
    assert effects(session_factory) == [0]


def _events_status(factory: sessionmaker[Session], url: str, bus: BusConfig) -> dict[str, Any]:
    """What `carloop events status --json` prints for this database and stream."""
    from typer.testing import CliRunner

    from carloop.cli.main import app

    env = {
        "CARLOOP_DATABASE_URL": factory.kw["bind"].url.render_as_string(hide_password=False),
        "CARLOOP_EVENT_BUS": url,
        "CARLOOP_EVENT_STREAM": bus.stream,
        "CARLOOP_EVENT_SUBJECT_PREFIX": bus.prefix,
    }
    result = CliRunner().invoke(app, ["events", "status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def _envelope(letter: Any) -> Envelope:
    return Envelope(letter.event_id, letter.name, dict(letter.payload))


def test_two_consumers_on_one_durable_share_the_events_without_doubling(
    session_factory: sessionmaker[Session], nats_url: str, bus: BusConfig
) -> None:
    engine = session_factory.kw["bind"]
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer: a handler holding its transaction stops the other consumer")
    total = 40
    both_busy = threading.Event()
    first = threading.Lock()
    held: list[int] = []

    def slow_first(session: Session, payload: Mapping[str, Any]) -> None:
        # the first event handled waits until the other consumer handled one: neither can take all
        with first:
            is_first = not held
            held.append(int(payload["n"]))
        if is_first:
            assert both_busy.wait(30), "the other consumer never got an event"
        else:
            both_busy.set()
        effect(session, payload)

    happen(session_factory, total)
    asyncio.run(_relay_all(session_factory, nats_url, bus))
    handlers = {Happened.name: [slow_first]}
    seen: list[list[int]] = [[], []]
    asyncio.run(
        _consume_until(
            session_factory,
            nats_url,
            bus,
            [("shared", handlers), ("shared", handlers)],
            lambda: len(effects(session_factory)) == total,
            batch=1,
            seen=seen,
        )
    )
    assert effects(session_factory) == list(range(total))
    assert seen[0] and seen[1], seen
    assert sorted(seen[0] + seen[1]) == sorted(set(seen[0] + seen[1]))
    assert len(seen[0]) + len(seen[1]) == total
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == total


def test_a_republished_row_outside_the_duplicate_window_is_still_handled_once(
    session_factory: sessionmaker[Session], nats_url: str, bus: BusConfig
) -> None:
    """JetStream forgets message ids after its window; the consumers' record does not."""
    happen(session_factory, 3)
    asyncio.run(_relay_all(session_factory, nats_url, bus))
    handlers = {Happened.name: [effect]}
    asyncio.run(
        _consume_until(
            session_factory, nats_url, bus, [("once", handlers)], lambda: len(effects(session_factory)) == 3
        )
    )

    async def forget_ids() -> None:  # as if the window had passed: a new stream of the same name
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(bus.stream)
        finally:
            await nc.close()

    asyncio.run(forget_ids())
    with session_factory.begin() as session:
        session.execute(update(OutboxEvent).values(relayed_at=None).where(OutboxEvent.name == Happened.name))
    asyncio.run(_relay_all(session_factory, nats_url, bus))

    def drained() -> bool:
        async def pending() -> int:
            nc = await nats.connect(nats_url)
            try:
                info = await nc.jetstream().consumer_info(bus.stream, "once")
                return int(info.num_pending + info.num_ack_pending)
            finally:
                await nc.close()

        return asyncio.run(pending()) == 0

    asyncio.run(_consume_until(session_factory, nats_url, bus, [("once", handlers)], drained))
    assert effects(session_factory) == [0, 1, 2]


def test_one_failing_event_in_a_batch_delays_only_itself(
    session_factory: sessionmaker[Session], nats_url: str, bus: BusConfig
) -> None:
    calls: list[int] = []

    def third_fails_once(session: Session, payload: Mapping[str, Any]) -> None:
        calls.append(int(payload["n"]))
        effect(session, payload)
        if payload["n"] == 2 and calls.count(2) == 1:
            raise RuntimeError("the third event's first attempt dies")

    happen(session_factory, 5)
    asyncio.run(_relay_all(session_factory, nats_url, bus))
    asyncio.run(
        _consume_until(
            session_factory,
            nats_url,
            bus,
            [("batch", {Happened.name: [third_fails_once]})],
            lambda: len(effects(session_factory)) == 5,
            batch=5,
        )
    )
    assert effects(session_factory) == [0, 1, 2, 3, 4]
    # the batch ran up to the failure, then the others one by one; the failed one came again later
    assert sorted(calls) == [0, 0, 1, 1, 2, 2, 3, 4]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 5


def test_a_retry_later_is_delivered_again_past_max_attempts_and_never_dead_lettered(
    session_factory: sessionmaker[Session], nats_url: str, bus: BusConfig
) -> None:
    from dataclasses import replace

    from carloop.outbox.service import RetryLater

    bus = replace(bus, defer_first=0.02, defer_max=0.05)  # quick deferrals; real errors still bury at 3
    calls: list[int] = []

    def provider_down_a_while(session: Session, payload: Mapping[str, Any]) -> None:
        calls.append(int(payload["n"]))
        effect(session, payload)  # rolled back with each deferral
        if len(calls) <= 2 * bus.max_attempts:
            raise RetryLater("the SMS provider is down")

    happen(session_factory, 1)
    asyncio.run(_relay_all(session_factory, nats_url, bus))
    asyncio.run(
        _consume_until(
            session_factory,
            nats_url,
            bus,
            [("notices", {Happened.name: [provider_down_a_while]})],
            lambda: effects(session_factory) == [0],
        )
    )
    assert calls == [0] * (2 * bus.max_attempts + 1)  # deferred six times, not buried after three
    assert effects(session_factory) == [0]
    with session_factory() as session:
        assert dead_letters(session) == []
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1


def test_deferral_delays_double_from_the_first_up_to_the_cap() -> None:
    config = BusConfig()
    assert [config.delay_deferred(n) for n in (1, 2, 3, 8, 9, 10_000)] == [
        5.0,
        10.0,
        20.0,
        640.0,
        900.0,
        900.0,
    ]

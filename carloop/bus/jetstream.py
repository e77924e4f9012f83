"""The NATS side of the bus: the stream, the relay's publishing and the durable consumers' loop.

The relay publishes each committed outbox row with its id as ``Nats-Msg-Id``; JetStream drops a second
message with the same id inside the duplicate window, so a relay that crashed after publishing and
before marking the rows relayed re-publishes without doubling. Each domain consumes through its own
durable pull consumer with explicit acks: handled (or already handled) events are acked, failures
nak'ed with a growing delay, and after ``max_attempts`` deliveries the event becomes a dead letter.
A handler whose outside provider is down raises ``RetryLater``: that event is nak'ed with the
outbox's retry delays (5 s doubling to 15 min) and never buried for it, however long the outage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from sqlalchemy.orm import Session, sessionmaker

from carloop.bus.handling import Envelope, bury, handle_batch, mark_relayed, subject_for, unrelayed
from carloop.outbox.service import FIRST_DELAY_SECONDS, MAX_DELAY_SECONDS, Handler, RetryLater
from carloop.settings import Settings

log = logging.getLogger("carloop.bus")

ACK_WAIT_SECONDS = 60.0
WEEK_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True)
class BusConfig:
    """Where the events go and how hard consumers try."""

    stream: str = "CARLOOP_EVENTS"
    prefix: str = "carloop.events"
    max_attempts: int = 8
    backoff: Sequence[float] = field(default=(1.0, 5.0, 30.0, 120.0, 600.0))
    duplicate_window: float = 600.0
    ack_wait: float = ACK_WAIT_SECONDS
    # a RetryLater (provider outage) waits like the outbox's: first delay, doubling, capped; never buried
    defer_first: float = float(FIRST_DELAY_SECONDS)
    defer_max: float = float(MAX_DELAY_SECONDS)

    @classmethod
    def from_settings(cls, settings: Settings) -> BusConfig:
        """The bus the settings describe."""
        return cls(
            stream=settings.event_stream,
            prefix=settings.event_subject_prefix,
            max_attempts=settings.event_max_attempts,
            backoff=tuple(settings.event_backoff) or (1.0,),
            duplicate_window=settings.event_duplicate_window,
            ack_wait=settings.event_ack_wait,
        )

    def delay_after(self, failures: int) -> float:
        """Seconds to wait before the next delivery after ``failures`` failed ones."""
        return self.backoff[min(failures, len(self.backoff)) - 1]

    def delay_deferred(self, deliveries: int) -> float:
        """Seconds to wait before the next delivery of an event deferred ``deliveries`` times."""
        return float(min(self.defer_max, self.defer_first * 2 ** max(0, min(deliveries, 30) - 1)))


async def ensure_stream(js: JetStreamContext, config: BusConfig) -> None:
    """Create the stream (or bring its settings up to date)."""
    stream = StreamConfig(
        name=config.stream,
        subjects=[f"{config.prefix}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=WEEK_SECONDS,  # a week of history for replays and `carloop events status`
        duplicate_window=config.duplicate_window,
    )
    try:
        await js.stream_info(config.stream)
    except NotFoundError:
        await js.add_stream(stream)
    else:
        await js.update_stream(stream)


async def ensure_consumer(js: JetStreamContext, config: BusConfig, durable: str) -> None:
    """Create ``durable`` (a pull consumer of every event, explicit acks) unless it exists."""
    try:
        await js.consumer_info(config.stream, durable)
    except NotFoundError:
        await js.add_consumer(
            config.stream,
            ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                filter_subject=f"{config.prefix}.>",
                ack_wait=config.ack_wait,
                max_deliver=-1,  # the consumer counts attempts itself and buries the event as a dead letter
            ),
        )


async def relay_once(
    factory: sessionmaker[Session],
    js: JetStreamContext,
    config: BusConfig,
    *,
    limit: int = 200,
    before_mark: Callable[[list[int]], None] | None = None,
) -> int:
    """Publish up to ``limit`` unrelayed rows, in order, and mark them after the stream's acks."""
    batch = await asyncio.to_thread(unrelayed, factory, limit=limit)
    if not batch:
        return 0
    acks = [  # written in order on one connection: the stream keeps the rows' order
        await js.publish_async(
            subject_for(config.prefix, event.name),
            event.encode(),
            stream=config.stream,
            headers={"Nats-Msg-Id": str(event.id)},
        )
        for event in batch
    ]
    await asyncio.gather(*acks)  # every ack (or the first failure: the rows stay unmarked)
    ids = [event.id for event in batch]
    if before_mark is not None:  # tests crash the relay here
        before_mark(ids)
    await asyncio.to_thread(mark_relayed, factory, ids)
    return len(batch)


async def consume(
    factory: sessionmaker[Session],
    js: JetStreamContext,
    config: BusConfig,
    durable: str,
    handlers: Mapping[str, Sequence[Handler]],
    *,
    running: Callable[[], bool],
    batch: int = 100,
    on_handled: Callable[[Envelope], Awaitable[None]] | None = None,
) -> None:
    """Fetch and handle ``durable``'s messages until ``running()`` turns false."""
    sub = await js.pull_subscribe_bind(durable=durable, stream=config.stream)
    try:
        while running():
            try:
                messages = await sub.fetch(batch, timeout=0.5)
            except TimeoutError:  # nothing to fetch for now (nats-py raises its own or asyncio's)
                continue
            except Exception:  # the connection is away: nats-py reconnects; fetch again shortly
                log.exception("%s: fetch failed", durable)
                await asyncio.sleep(1.0)
                continue
            try:
                handled = await _settle(factory, config, durable, handlers, messages)
            except Exception:  # the database or the connection failed: JetStream redelivers after ack_wait
                log.exception("%s: a batch of %d was not settled", durable, len(messages))
                await asyncio.sleep(1.0)
                continue
            if on_handled is not None:
                for event in handled:
                    await on_handled(event)
    finally:
        await sub.unsubscribe()


async def _settle(
    factory: sessionmaker[Session],
    config: BusConfig,
    durable: str,
    handlers: Mapping[str, Sequence[Handler]],
    messages: Sequence[Msg],
) -> list[Envelope]:
    """Handle a batch in one transaction, then ack the handled, nak the failed with a delay, and term
    (after recording a dead letter) those that failed their last attempt; returns the handled."""
    events = [Envelope.decode(msg.data) for msg in messages]
    outcomes = await asyncio.to_thread(handle_batch, factory, durable, handlers, events)
    handled: list[Envelope] = []
    for msg, event, failure in zip(messages, events, outcomes, strict=True):
        if failure is None:
            await msg.ack()  # a lost ack only brings a redelivery, which finds the event processed
            handled.append(event)
            continue
        delivered = msg.metadata.num_delivered
        if isinstance(failure, RetryLater):  # a provider outage: wait and try again, never a dead letter
            log.warning("%s: event %s (%s) deferred: %s", durable, event.id, event.name, failure)
            await msg.nak(delay=config.delay_deferred(delivered))
            continue
        error = f"{type(failure).__name__}: {failure}"
        log.warning("%s: event %s (%s) failed: %s", durable, event.id, event.name, error)
        if delivered >= config.max_attempts:
            await asyncio.to_thread(bury, factory, durable, event, delivered, error)
            await msg.term()
        else:
            await msg.nak(delay=config.delay_after(delivered))
    return handled

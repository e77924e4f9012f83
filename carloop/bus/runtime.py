"""The bus in a server process: one thread with its own event loop runs the relay and the consumers.

Every process runs both: the relay's re-publishes are de-duplicated by JetStream and the consumers of
one durable share its messages, so two or more ``carloop serve`` processes split the work between them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence

import nats
from sqlalchemy.orm import Session, sessionmaker

from carloop.bus.jetstream import BusConfig, consume, ensure_consumer, ensure_stream, relay_once
from carloop.outbox.service import Handler
from carloop.settings import Settings

log = logging.getLogger("carloop.bus")
START_TIMEOUT = 15.0


class EventBus:
    """The relay (every ``interval`` seconds while idle) and one consumer per domain, in a thread."""

    def __init__(
        self,
        url: str,
        factory: sessionmaker[Session],
        config: BusConfig,
        domains: Mapping[str, Mapping[str, Sequence[Handler]]],
        *,
        interval: float,
        relay: bool = True,
    ) -> None:
        self.url = url
        self.factory = factory
        self.config = config
        self.domains = domains
        self.interval = interval
        self.relay = relay
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="carloop-bus", daemon=True)

    def start(self) -> None:
        """Connect, make sure the stream and consumers exist, then run in the background."""
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT) or self._failure is not None:
            self.stop()
            raise RuntimeError(f"the event bus at {self.url} did not start: {self._failure!r}")

    def stop(self) -> None:
        """Finish the current messages, close the connection, wait for the thread."""
        self._stopping.set()
        self._thread.join(timeout=START_TIMEOUT)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported by start(), or logged when it happens later
            self._failure = err
            log.exception("the event bus stopped")
        finally:
            self._ready.set()

    async def _main(self) -> None:
        nc = await nats.connect(self.url, name="carloop", max_reconnect_attempts=-1)
        try:
            js = nc.jetstream()
            await ensure_stream(js, self.config)
            for durable in self.domains:
                await ensure_consumer(js, self.config, durable)
            running = lambda: not self._stopping.is_set()  # noqa: E731
            tasks = [
                asyncio.create_task(consume(self.factory, js, self.config, d, h, running=running))
                for d, h in self.domains.items()
            ]
            if self.relay:
                tasks.append(asyncio.create_task(self._relay(js, running)))
            self._ready.set()
            await asyncio.gather(*tasks)
        finally:
            await nc.close()

    async def _relay(self, js: nats.js.JetStreamContext, running: Callable[[], bool]) -> None:
        while running():
            try:
                relayed = await relay_once(self.factory, js, self.config)
            except Exception:  # the database or the stream is away: the rows wait, the relay retries
                log.exception("the outbox relay failed")
                relayed = 0
            if not relayed:
                await asyncio.sleep(self.interval)


def start(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    domains: Mapping[str, Mapping[str, Sequence[Handler]]],
) -> Callable[[], None]:
    """The lifespan component for CARLOOP_EVENT_BUS=nats://...: start the bus, return its stop."""
    if settings.outbox_interval <= 0:
        return lambda: None
    bus = EventBus(
        settings.event_bus,
        sessions,
        BusConfig.from_settings(settings),
        domains,
        interval=settings.outbox_interval,
    )
    bus.start()
    return bus.stop

"""The group-commit writer: one thread per process turns queued tickets into shared transactions.

Requests wait on a future; the writer takes what has queued (up to ``max_batch`` tickets, waiting at
most ``max_wait`` seconds for more), stores them in one transaction, commits, and only then resolves
every future of the batch. Past ``max_pending`` waiting tickets, ``overloaded`` tells the route to
answer 503 at once instead of letting requests time out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from carloop.clock import utcnow
from carloop.ordering.intake.store import Outcome, Ticket, store_batch
from carloop.payments.providers.simulator import SimulatorProvider

log = logging.getLogger("carloop.intake")

Waiter = asyncio.Future[Outcome] | concurrent.futures.Future[Outcome]


def busy_outcome(detail: str = "The queue is full; retry with the same Idempotency-Key.") -> Outcome:
    """The 503 answer that asks the client to come back with the same key."""
    return Outcome(
        503,
        {
            "type": "https://carloop.dev/problems/overloaded",
            "title": "Service Unavailable",
            "status": 503,
            "detail": detail,
            "code": "overloaded",
            "retry_after": 1,
        },
    )


@dataclass(frozen=True, slots=True)
class WriterConfig:
    """Group-commit knobs: batch size, how long to wait for company, how many may queue."""

    max_batch: int = 500
    max_wait: float = 0.002
    max_pending: int = 2048


class GroupCommitWriter:
    """A single writer per process that commits many tickets per transaction."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        provider: SimulatorProvider,
        config: WriterConfig | None = None,
    ) -> None:
        self.sessions = sessions
        self.provider = provider
        self.config = config or WriterConfig()
        self._queue: queue.SimpleQueue[tuple[Ticket, Waiter] | None] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.stored = 0

    @property
    def pending(self) -> int:
        """Tickets queued or in the transaction being written."""
        return self._pending

    def overloaded(self) -> bool:
        """Whether a new ticket should be turned away with 503 and Retry-After."""
        return self._pending >= self.config.max_pending

    def _enqueue(self, ticket: Ticket, waiter: Waiter) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="intake-writer", daemon=True)
                    self._thread.start()
        with self._lock:
            self._pending += 1
        self._queue.put((ticket, waiter))

    def submit(self, ticket: Ticket) -> asyncio.Future[Outcome]:
        """Queue a ticket from the event loop; the future resolves after its batch commits."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._enqueue(ticket, future)
        return future

    def submit_blocking(self, ticket: Ticket, timeout: float = 30.0) -> Outcome:
        """Queue a ticket from a worker thread and wait for its committed outcome."""
        future: concurrent.futures.Future[Outcome] = concurrent.futures.Future()
        self._enqueue(ticket, future)
        return future.result(timeout=timeout)

    def stop(self) -> None:
        """Finish the tickets already queued, then end the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _collect(self) -> tuple[list[tuple[Ticket, Waiter]], bool]:
        item = self._queue.get()
        if item is None:
            return [], True
        batch = [item]
        deadline = time.monotonic() + self.config.max_wait
        while len(batch) < self.config.max_batch:
            remaining = deadline - time.monotonic()
            try:
                nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                return batch, True
            batch.append(nxt)
        return batch, False

    def _run(self) -> None:
        done = False
        while not done:
            batch, done = self._collect()
            if batch:
                self._write(batch)

    def _write(self, batch: list[tuple[Ticket, Waiter]]) -> None:
        tickets = [t for t, _ in batch]
        outcomes = self._commit(tickets)
        if outcomes is None:  # the whole batch failed repeatedly: isolate the ticket that breaks it
            outcomes = []
            for ticket in tickets:
                single = self._commit([ticket])
                outcomes.append(
                    single[0] if single else busy_outcome("Storing failed; retry with the same key.")
                )
        self.batches += 1
        self.stored += len(tickets)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Outcome], Outcome]]] = {}
        for (_, waiter), outcome in zip(batch, outcomes, strict=True):
            if isinstance(waiter, asyncio.Future):
                by_loop.setdefault(waiter.get_loop(), []).append((waiter, outcome))
            elif not waiter.done():
                waiter.set_result(outcome)
        for loop, pairs in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop (shutdown): nobody waits any more
                loop.call_soon_threadsafe(_resolve, pairs)
        with self._lock:
            self._pending -= len(batch)

    def _commit(self, tickets: list[Ticket]) -> list[Outcome] | None:
        for attempt in range(3):
            try:
                with self.sessions.begin() as session:
                    return store_batch(session=session, tickets=tickets, provider=self.provider, now=utcnow())
            except Exception:
                log.exception("intake batch of %d failed (attempt %d)", len(tickets), attempt + 1)
                time.sleep(0.01 * (attempt + 1))
        return None


def _resolve(pairs: list[tuple[asyncio.Future[Outcome], Outcome]]) -> None:
    for future, outcome in pairs:
        if not future.done():
            future.set_result(outcome)

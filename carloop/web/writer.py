"""The group-commit writer of the fast lanes: one thread per process, many requests per transaction.

Requests wait on a future; the writer takes what has queued (up to ``max_batch``, waiting at most
``max_wait`` for more), runs each lane's batched use case on its share in one transaction, commits,
and only then resolves every future of the batch. Past ``max_pending`` waiting requests,
``overloaded`` tells the lane to answer 503 at once instead of letting requests time out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from carloop.clock import utcnow
from carloop.errors import DomainError
from carloop.settings import Settings

log = logging.getLogger("carloop.lanes")


class Busy(DomainError):
    """The lane's queue is full, or storing failed: retry (with the same Idempotency-Key)."""


@dataclass(frozen=True, slots=True)
class WriterConfig:
    """Group-commit knobs: batch size, how long to wait for company, how many may queue."""

    max_batch: int = 500
    max_wait: float = 0.002
    max_pending: int = 2048

    @classmethod
    def of(cls, settings: Settings) -> WriterConfig:
        """The knobs from ``CARLOOP_LANE_*`` settings."""
        return cls(settings.lane_max_batch, settings.lane_max_wait_ms / 1000, settings.lane_max_pending)


Store = Callable[[Session, list[Any], datetime], Sequence[Any]]
Waiter = asyncio.Future[Any] | concurrent.futures.Future[Any]


class GroupCommitWriter:
    """One thread per process that commits many requests per transaction, then wakes their waiters.

    Requests of every lane queue here with the lane's ``store``; the thread takes what has queued (up
    to ``max_batch``, waiting at most ``max_wait`` for more), runs each lane's share in one
    transaction, commits, and only then resolves the futures. A batch that keeps failing is retried
    one request at a time, so one bad request cannot sink the others.
    """

    def __init__(self, sessions: sessionmaker[Session], config: WriterConfig | None = None) -> None:
        self.sessions = sessions
        self.config = config or WriterConfig()
        self._queue: queue.SimpleQueue[tuple[Store, Any, Waiter] | None] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.stored = 0

    @property
    def pending(self) -> int:
        """Requests queued or in the transaction being written."""
        return self._pending

    def overloaded(self) -> bool:
        """Whether a new request should be turned away with 503 and Retry-After."""
        return self._pending >= self.config.max_pending

    def _enqueue(self, store: Store, item: Any, waiter: Waiter) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="lane-writer", daemon=True)
                    self._thread.start()
        with self._lock:
            self._pending += 1
        self._queue.put((store, item, waiter))

    def submit(self, store: Store, item: Any) -> asyncio.Future[Any]:
        """Queue an item from the event loop; the future resolves after its batch commits."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._enqueue(store, item, future)
        return future

    def submit_blocking(self, store: Store, item: Any, timeout: float = 30.0) -> Any:
        """Queue an item from a worker thread and wait for its committed result."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._enqueue(store, item, future)
        return future.result(timeout=timeout)

    def stop(self) -> None:
        """Finish what is queued, then end the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _collect(self) -> tuple[list[tuple[Store, Any, Waiter]], bool]:
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

    def _write(self, batch: list[tuple[Store, Any, Waiter]]) -> None:
        results = self._commit(batch)
        if results is None:  # the whole batch failed repeatedly: isolate the request that breaks it
            results = []
            for one in batch:
                single = self._commit([one])
                results.append(single[0] if single else Busy("Storing failed; retry with the same key."))
        self.batches += 1
        self.stored += len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        for (_, _, waiter), result in zip(batch, results, strict=True):
            if isinstance(waiter, asyncio.Future):
                by_loop.setdefault(waiter.get_loop(), []).append((waiter, result))
            elif not waiter.done():
                waiter.set_result(result)
        for loop, pairs in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop (shutdown): nobody waits any more
                loop.call_soon_threadsafe(_resolve, pairs)
        with self._lock:
            self._pending -= len(batch)

    def _commit(self, batch: list[tuple[Store, Any, Waiter]]) -> list[Any] | None:
        groups: dict[Store, list[int]] = {}
        for i, (store, _, _) in enumerate(batch):
            groups.setdefault(store, []).append(i)
        for attempt in range(3):
            try:
                results: list[Any] = [None] * len(batch)
                with self.sessions.begin() as session:
                    now = utcnow()
                    for store, indexes in groups.items():
                        out = store(session, [batch[i][1] for i in indexes], now)
                        for i, result in zip(indexes, out, strict=True):
                            results[i] = result
                return results
            except Exception:
                log.exception("lane batch of %d failed (attempt %d)", len(batch), attempt + 1)
                time.sleep(0.01 * (attempt + 1))
        return None


def _resolve(pairs: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, result in pairs:
        if not future.done():
            future.set_result(result)

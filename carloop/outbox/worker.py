"""A background thread that dispatches outbox events while the server runs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.orm import Session, sessionmaker

from carloop.outbox.service import Handler, dispatch

log = logging.getLogger("carloop.outbox")

# A job the worker also runs on its schedule: it gets the session factory.
PeriodicJob = Callable[[sessionmaker[Session]], object]


class OutboxWorker:
    """Polls the outbox every ``interval`` seconds and runs the handlers; stops on ``stop()``."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        interval: float,
        *,
        handlers: Mapping[str, Sequence[Handler]],
        jobs: Sequence[tuple[float, PeriodicJob]] = (),
    ) -> None:
        self.factory = factory
        self.interval = interval
        self.handlers = {name: list(funcs) for name, funcs in handlers.items()}
        self.jobs = list(jobs)  # (seconds between runs, job)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carloop-outbox", daemon=True)

    def start(self) -> None:
        """Begin polling in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish and wait for it briefly."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        handlers, jobs = self.handlers, self.jobs
        next_run = [time.monotonic()] * len(jobs)  # periodic jobs run at the first tick, then on schedule
        while not self._stop.wait(self.interval):
            try:
                dispatch(self.factory, handlers)
            except Exception:  # keep polling; the error is logged and the rows stay pending
                log.exception("outbox dispatch failed")
            self._run_due(jobs, next_run)

    def _run_due(self, jobs: list[tuple[float, PeriodicJob]], next_run: list[float]) -> None:
        now = time.monotonic()
        for i, (every, job) in enumerate(jobs):
            if now < next_run[i]:
                continue
            next_run[i] = now + every
            try:
                job(self.factory)
            except Exception:  # the next round retries
                log.exception("periodic job %s failed", getattr(job, "__name__", job))

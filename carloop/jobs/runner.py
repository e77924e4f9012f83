"""The one job runner of a server process: a thread that runs every due job it can lease.

Started by the app's lifespan as a component (``start(settings, sessions) -> stop``). Every server
process runs one; the lease in ``scheduled_jobs`` makes sure each due job runs in only one of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from carloop.jobs import registry, service
from carloop.jobs.registry import Job
from carloop.settings import Settings

log = logging.getLogger("carloop.jobs")


class JobRunner:
    """Every ``tick`` seconds, runs the due jobs whose lease this process takes; stops on ``stop()``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        tick: float,
        *,
        jobs: Sequence[Job] | None = None,
        lease: timedelta = service.DEFAULT_LEASE,
    ) -> None:
        self.sessions = sessions
        self.tick = tick
        self.jobs = jobs
        self.lease = lease
        self.owner = service.process_owner()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="carloop-jobs", daemon=True)

    def start(self) -> None:
        """Begin running jobs in the background (the first round runs at once)."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish its current job and wait for it briefly."""
        self._stop.set()
        self._thread.join(timeout=10)

    def run_once(self) -> list[service.Ran]:
        """One round: every due job this process can lease."""
        return service.run_due(self.sessions, owner=self.owner, jobs=self.jobs, lease=self.lease)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database may be away for a moment; try again next tick
                log.exception("job round failed")
            self._stop.wait(self.tick)


def scheduled(settings: Settings, jobs: Sequence[Job] | None = None) -> list[Job]:
    """``jobs`` (the registered ones by default) with the intervals ``settings.jobs_every`` overrides."""
    every = settings.jobs_every
    return [
        replace(job, every=timedelta(seconds=every[job.name])) if job.name in every else job
        for job in (registry.JOBS if jobs is None else jobs)
    ]


def start(
    settings: Settings, sessions: sessionmaker[Session], *, jobs: Sequence[Job] | None = None
) -> Callable[[], None]:
    """The lifespan component: start this process's runner over ``jobs`` (the registered ones by
    default) and return its stop (a no-op when off)."""
    if settings.jobs_tick <= 0:
        return lambda: None
    runner = JobRunner(
        sessions,
        settings.jobs_tick,
        jobs=scheduled(settings, jobs),
        lease=timedelta(seconds=settings.jobs_lease_seconds),
    )
    runner.start()
    return runner.stop

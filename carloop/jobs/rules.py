"""Pure scheduling rules: when a job is due next, and what a run's outcome means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class JobOutcome(StrEnum):
    """How a job's last run ended."""

    OK = "ok"  # the job did its work (possibly nothing was due)
    FAILED = "failed"  # the job ran and found a problem (e.g. the ledger does not balance)
    ERROR = "error"  # the job raised; it is retried at its next run


@dataclass(frozen=True, slots=True)
class JobResult:
    """What one run of a job did, in a line a person can read."""

    outcome: JobOutcome
    detail: str = ""

    @classmethod
    def ok(cls, detail: str = "") -> JobResult:
        """A run that did its work."""
        return cls(JobOutcome.OK, detail)

    @classmethod
    def failed(cls, detail: str) -> JobResult:
        """A run that found a problem someone must look at."""
        return cls(JobOutcome.FAILED, detail)


def next_run(now: datetime, every: timedelta, earliest_due: datetime | None = None) -> datetime:
    """The next run: after ``every``, or sooner when the job knows its next promise falls due earlier.

    A promise already due (``earliest_due`` <= now) does not make the job spin: it runs again at the
    next tick at the soonest, which the runner's tick bounds.
    """
    regular = now + every
    if earliest_due is None:
        return regular
    return max(now, min(regular, earliest_due))


def is_due(next_run_at: datetime | None, now: datetime) -> bool:
    """Whether a job whose next run is ``next_run_at`` should run at ``now``."""
    return next_run_at is None or next_run_at <= now


def lease_free(lease_until: datetime | None, now: datetime) -> bool:
    """Whether nobody holds the lease (never taken, released, or lapsed)."""
    return lease_until is None or lease_until <= now

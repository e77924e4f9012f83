"""Leases and runs: a process runs a job only after taking its lease with one conditional UPDATE.

Every job has a row in ``scheduled_jobs``. To run a due job, a process sets itself as the owner in
one statement whose WHERE clause says "due, and nobody holds an unexpired lease"; the database lets
exactly one of several racing processes match it (the same on SQLite and PostgreSQL), and that
process runs the job and then records the outcome and the next run. A process that dies mid-run
leaves a lease that lapses after ``lease``, and another process takes the job over.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from carloop.clock import as_utc, utcnow
from carloop.jobs import rules
from carloop.jobs.models import ScheduledJob
from carloop.jobs.registry import JOBS, Job
from carloop.jobs.rules import JobOutcome, JobResult

log = logging.getLogger("carloop.jobs")
DEFAULT_LEASE = timedelta(minutes=10)


def process_owner() -> str:
    """A name for this process that no other process shares: host, pid and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:120]


def ensure_rows(*, session: Session, names: Sequence[str]) -> None:
    """Create the lease row of every job that has none yet (racing processes insert it once)."""
    if not names:
        return
    rows = [
        {"name": name, "owner": "", "last_outcome": "", "last_detail": "", "last_owner": "", "runs": 0}
        for name in names
    ]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(ScheduledJob).values(rows).on_conflict_do_nothing(index_elements=["name"]))


def claim(
    *,
    session: Session,
    name: str,
    owner: str,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
    due_only: bool = True,
) -> bool:
    """Take the job's lease if it is due and free; True when this owner now holds it."""
    query = (
        update(ScheduledJob)
        .where(
            ScheduledJob.name == name,
            or_(ScheduledJob.lease_until.is_(None), ScheduledJob.lease_until <= now),
        )
        .values(owner=owner, lease_until=now + lease, last_started_at=now)
        .execution_options(synchronize_session=False)
    )
    if due_only:
        query = query.where(or_(ScheduledJob.next_run_at.is_(None), ScheduledJob.next_run_at <= now))
    return session.execute(query).rowcount == 1  # type: ignore[attr-defined]


def finish(
    *, session: Session, name: str, owner: str, now: datetime, result: JobResult, next_run_at: datetime
) -> bool:
    """Release the lease with the run's outcome and the next run; False if the lease was lost meanwhile."""
    query = (
        update(ScheduledJob)
        .where(ScheduledJob.name == name, ScheduledJob.owner == owner)
        .values(
            owner="",
            lease_until=None,
            next_run_at=next_run_at,
            last_finished_at=now,
            last_outcome=str(result.outcome),
            last_detail=result.detail[:500],
            last_owner=owner,
            runs=ScheduledJob.runs + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return session.execute(query).rowcount == 1  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Ran:
    """One job this process ran and what came of it."""

    name: str
    result: JobResult


def run_job(
    sessions: sessionmaker[Session],
    job: Job,
    *,
    owner: str,
    now: datetime | None = None,
    due_only: bool = True,
    lease: timedelta = DEFAULT_LEASE,
) -> Ran | None:
    """Run one job under its lease; None when it was not due or another process holds it."""
    now = now or utcnow()
    with sessions.begin() as session:
        ensure_rows(session=session, names=[job.name])
    with sessions.begin() as session:
        if not claim(session=session, name=job.name, owner=owner, now=now, lease=lease, due_only=due_only):
            return None
    try:
        result = job.run(sessions, now)
    except Exception as err:  # the job is retried at its next run; the error is kept on its row
        log.exception("job %s failed", job.name)
        result = JobResult(JobOutcome.ERROR, f"{type(err).__name__}: {err}")
    if result.outcome is JobOutcome.FAILED:
        log.error("job %s: %s", job.name, result.detail)
    finished = utcnow()
    with sessions.begin() as session:
        hint = job.next_due(session) if job.next_due is not None else None
        finish(
            session=session,
            name=job.name,
            owner=owner,
            now=finished,
            result=result,
            next_run_at=rules.next_run(finished, job.every, hint),
        )
    return Ran(job.name, result)


def run_due(
    sessions: sessionmaker[Session],
    *,
    owner: str,
    jobs: Sequence[Job] | None = None,
    now: datetime | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> list[Ran]:
    """Run every due job whose lease this process can take; returns what it ran."""
    jobs = JOBS if jobs is None else jobs
    with sessions() as session:
        rows = {row.name: row for row in session.scalars(select(ScheduledJob))}
    ran: list[Ran] = []
    for job in jobs:
        row, moment = rows.get(job.name), now or utcnow()
        if row is not None and not (
            rules.is_due(row.next_run_at, moment) and rules.lease_free(row.lease_until, moment)
        ):
            continue  # cheap pre-check; the conditional UPDATE decides
        done = run_job(sessions, job, owner=owner, now=now, lease=lease)
        if done is not None:
            ran.append(done)
    return ran


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job as ``carloop jobs list`` and the console show it."""

    name: str
    description: str
    every: timedelta
    last_started_at: datetime | None
    last_finished_at: datetime | None
    next_run_at: datetime | None
    outcome: str
    detail: str
    runs: int
    running_on: str


def statuses(*, session: Session, jobs: Sequence[Job] | None = None) -> list[JobStatus]:
    """Every registered job with its last run, next run and outcome."""
    jobs = JOBS if jobs is None else jobs
    rows = {row.name: row for row in session.scalars(select(ScheduledJob))}
    now = utcnow()
    out = []
    for job in jobs:
        row = rows.get(job.name)
        held = row is not None and not rules.lease_free(row.lease_until, now)
        out.append(
            JobStatus(
                name=job.name,
                description=job.description,
                every=job.every,
                last_started_at=None
                if row is None or row.last_started_at is None
                else as_utc(row.last_started_at),
                last_finished_at=None
                if row is None or row.last_finished_at is None
                else as_utc(row.last_finished_at),
                next_run_at=None if row is None or row.next_run_at is None else as_utc(row.next_run_at),
                outcome=row.last_outcome if row is not None else "",
                detail=row.last_detail if row is not None else "",
                runs=row.runs if row is not None else 0,
                running_on=row.owner if held and row is not None else "",
            )
        )
    return out


def alerts(*, session: Session) -> list[JobStatus]:
    """Jobs whose last run failed or raised: what HQ must look at (a failing ledger check first)."""
    bad = [s for s in statuses(session=session) if s.outcome in (JobOutcome.FAILED, JobOutcome.ERROR)]
    return sorted(bad, key=lambda s: (s.name != "ledger_check", s.name))

"""Every scheduled job, one line each: its name, how often it runs, what it runs.

A domain that makes a promise on a clock adds one line to ``JOBS``; the runner in the server and
``carloop jobs run`` pick it up (an app adds jobs of its own on ``app.state.jobs``, never here).
A job is a function of the session factory and the moment (it owns its transactions, like any
edge) returning a ``JobResult``; it may also say when its next promise falls due (``next_due``),
so a promise is kept on time rather than at the next regular round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from carloop.jobs import tasks
from carloop.jobs.rules import JobResult

Run = Callable[[sessionmaker[Session], datetime], JobResult]
NextDue = Callable[[Session], datetime | None]


@dataclass(frozen=True, slots=True)
class Job:
    """A scheduled promise: run ``run`` every ``every`` (sooner when ``next_due`` says so)."""

    name: str
    every: timedelta
    run: Run
    description: str
    next_due: NextDue | None = None


# fmt: off
JOBS: list[Job] = [
    Job("auto_lock", timedelta(minutes=1), tasks.auto_lock, "Lock orders at their refund window's end",
        tasks.next_auto_lock),
    Job("lapse_unpaid", timedelta(minutes=1), tasks.lapse_unpaid,
        "Unpaid reservations lapse at their payment window's end", tasks.next_lapse),
    Job("offer_expiry", timedelta(minutes=5), tasks.offer_expiry, "Pass expired inventory offers on",
        tasks.next_offer_expiry),
    Job("reminders", timedelta(minutes=1), tasks.reminders, "Appointment reminders and pending notices"),
    Job("ledger_check", timedelta(days=1), tasks.ledger_check, "Prove the ledger balances (alerts HQ)"),
    Job("points_expiry", timedelta(hours=6), tasks.points_expiry, "Lapse points past their expiry"),
    Job("campaign_openings", timedelta(minutes=1), tasks.campaign_openings,
        "Queue campaigns' opening notices at their reveal", tasks.next_campaign_opening),
    Job("kept_windows", timedelta(days=1), tasks.kept_windows,
        "Measure how often delivery windows were kept (the confidence buyers see)"),
]
# fmt: on


def by_name(name: str) -> Job | None:
    """The registered job called ``name``."""
    return next((job for job in JOBS if job.name == name), None)

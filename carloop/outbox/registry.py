"""Every domain's event handlers in one mapping, for the dispatcher."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.orm import Session, sessionmaker

from carloop.analytics import events as analytics_events
from carloop.appointments import reminders as appointment_reminders
from carloop.ecosystem import events as ecosystem_events
from carloop.loyalty import events as loyalty_events
from carloop.outbox.service import Handler
from carloop.production import events as production_events

# each domain's EVENT_HANDLERS, listed here
DOMAIN_HANDLERS: list[Mapping[str, Sequence[Handler]]] = [
    ecosystem_events.EVENT_HANDLERS,
    analytics_events.EVENT_HANDLERS,
    loyalty_events.EVENT_HANDLERS,
    production_events.EVENT_HANDLERS,
]


def all_handlers() -> dict[str, list[Handler]]:
    """Event name -> the handlers of every domain that reacts to it."""
    merged: dict[str, list[Handler]] = {}
    for handlers in DOMAIN_HANDLERS:
        for name, funcs in handlers.items():
            merged.setdefault(name, []).extend(funcs)
    return merged


# (seconds between runs, job) that the outbox worker also runs on its schedule, one line per domain.
PeriodicJob = Callable[[sessionmaker[Session]], object]
PERIODIC_JOBS: list[tuple[float, PeriodicJob]] = [
    (appointment_reminders.REMINDER_INTERVAL, appointment_reminders.run_periodic),
]


def periodic_jobs() -> list[tuple[float, PeriodicJob]]:
    """Every domain's periodic jobs with their intervals."""
    return list(PERIODIC_JOBS)

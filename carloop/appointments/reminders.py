"""Reminders on a schedule: leave a notice for every appointment within a day.

The server's job runner runs :func:`send_due` every minute (the ``reminders`` job in
``carloop.jobs.registry``); ``carloop notices send`` does the same once, for cron or by hand.
Each appointment is reminded once (a conditional update claims it); the notice is in the buyer's
inbox at once and goes out on its other channels through the outbox (``carloop.notices.delivery``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from carloop.appointments import service

log = logging.getLogger("carloop.appointments")


@dataclass(frozen=True, slots=True)
class Round:
    """What one round did: reminders left as notices."""

    queued: int


def send_due(*, factory: sessionmaker[Session], now: datetime | None = None) -> Round:
    """One round in one transaction: leave the due reminders (their outside channels via the outbox)."""
    with factory.begin() as session:
        queued = service.queue_reminders(session=session, now=now)
    return Round(queued)


notices_app = typer.Typer(
    help="Notices to buyers (appointment reminders, centre changes).", no_args_is_help=True
)


@notices_app.command("send")
def send_command(
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Overrides CARLOOP_DATABASE_URL.")
    ] = None,
) -> None:
    """Leave the reminders now due as notices (the server's outbox sends their SMS and e-mail)."""
    from carloop.db import make_engine, make_session_factory
    from carloop.settings import Settings

    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    engine = make_engine(settings)
    try:
        done = send_due(factory=make_session_factory(engine))
    finally:
        engine.dispose()
    typer.echo(f"reminders queued: {done.queued}")

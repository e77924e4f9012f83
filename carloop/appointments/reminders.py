"""Reminders on a schedule: queue a notice for every appointment within a day, then send what is owed.

The server's job runner runs :func:`send_due` every minute (the ``reminders`` job in
``carloop.jobs.registry``); ``carloop notices send`` does the same once, for cron or by hand.
Each appointment is reminded once (a conditional update claims it) and each notice is sent once
(claimed the same way); a sender that fails rolls the round back, so it is retried next time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from carloop.appointments import service
from carloop.network.notices import LogNoticeSender, NoticeSender, deliver_notices

log = logging.getLogger("carloop.appointments")


@dataclass(frozen=True, slots=True)
class Round:
    """What one round did: reminders queued and notices sent."""

    queued: int
    sent: int


def send_due(
    *, factory: sessionmaker[Session], sender: NoticeSender | None = None, now: datetime | None = None
) -> Round:
    """One round in one transaction: queue due reminders, then send every pending notice."""
    with factory.begin() as session:
        queued = service.queue_reminders(session=session, now=now)
        sent = deliver_notices(session=session, sender=sender or LogNoticeSender())
    return Round(queued, sent)


notices_app = typer.Typer(
    help="Notices to buyers (appointment reminders, centre changes).", no_args_is_help=True
)


@notices_app.command("send")
def send_command(
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Overrides CARLOOP_DATABASE_URL.")
    ] = None,
) -> None:
    """Queue the reminders now due and send every pending notice (through the log sender)."""
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
    typer.echo(f"reminders queued: {done.queued}; notices sent: {done.sent}")

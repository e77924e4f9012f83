"""``carloop jobs``: list the scheduled jobs with their last and next run, and run them by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from carloop.clock import SHANGHAI
from carloop.jobs import registry, service
from carloop.jobs.rules import JobOutcome

jobs_app = typer.Typer(
    help="Scheduled promises (the server runs them itself, once across processes).", no_args_is_help=True
)
console = Console()
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="Overrides CARLOOP_DATABASE_URL.")]
COLOURS = {JobOutcome.OK: "green", JobOutcome.FAILED: "red", JobOutcome.ERROR: "red"}


@contextmanager
def _sessions(database_url: str | None) -> Iterator[sessionmaker[Session]]:
    from carloop.db import make_engine, make_session_factory
    from carloop.settings import Settings

    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    engine = make_engine(settings)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _when(moment: object) -> str:
    from datetime import datetime

    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if isinstance(moment, datetime) else "—"


@jobs_app.command("list")
def list_jobs(
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Each job's last run, next run and outcome (times in Asia/Shanghai)."""
    with _sessions(database_url) as sessions, sessions() as session:
        rows = service.statuses(session=session)
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "name": r.name,
                        "every_seconds": r.every.total_seconds(),
                        "last_started_at": r.last_started_at.isoformat() if r.last_started_at else None,
                        "last_finished_at": r.last_finished_at.isoformat() if r.last_finished_at else None,
                        "next_run_at": r.next_run_at.isoformat() if r.next_run_at else None,
                        "outcome": r.outcome or None,
                        "detail": r.detail,
                        "runs": r.runs,
                        "running_on": r.running_on or None,
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table(title="Scheduled jobs (Asia/Shanghai)")
    for column in ("job", "every", "last run", "next run", "outcome", "runs", "detail"):
        table.add_column(column)
    for r in rows:
        colour = COLOURS.get(JobOutcome(r.outcome), "white") if r.outcome else "dim"
        outcome = f"[{colour}]{r.outcome or 'never run'}[/{colour}]"
        if r.running_on:
            outcome += f" (running on {r.running_on})"
        table.add_row(
            r.name,
            str(r.every),
            _when(r.last_finished_at),
            _when(r.next_run_at),
            outcome,
            str(r.runs),
            r.detail,
        )
    Console().print(table)  # made now, so it takes the terminal's (or COLUMNS') width at this moment


@jobs_app.command("run")
def run_jobs(
    names: Annotated[
        list[str] | None, typer.Argument(help="Jobs to run now; all of them when none is named.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run jobs now under the server's lease (one running elsewhere is skipped); exit 1 on a failure."""
    chosen = []
    for name in names or [job.name for job in registry.JOBS]:
        job = registry.by_name(name)
        if job is None:
            known = ", ".join(j.name for j in registry.JOBS)
            console.print(f"[red]no job {name!r}[/red] (known: {known})")
            raise typer.Exit(2)
        chosen.append(job)
    owner = "cli:" + service.process_owner()
    failed = False
    with _sessions(database_url) as sessions:
        ran_jobs = [(job, service.run_job(sessions, job, owner=owner, due_only=False)) for job in chosen]
    for job, ran in ran_jobs:
        if ran is None:
            console.print(f"{job.name}: [yellow]skipped, another process is running it[/yellow]")
            continue
        colour = COLOURS[ran.result.outcome]
        console.print(f"{job.name}: [{colour}]{ran.result.outcome}[/{colour}] {ran.result.detail}")
        failed = failed or ran.result.outcome is not JobOutcome.OK
    raise typer.Exit(1 if failed else 0)

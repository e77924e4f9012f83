"""``carloop events``: the event bus's backlog, consumers and dead letters; retry dead letters."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

events_app = typer.Typer(
    help="Outbox events: the database poller or NATS JetStream (CARLOOP_EVENT_BUS).", no_args_is_help=True
)
console = Console()
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="Overrides CARLOOP_DATABASE_URL.")]


def _settings(database_url: str | None) -> Any:
    from carloop.settings import Settings

    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


@events_app.command("status")
def status(
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The relay's backlog, each domain consumer's progress on the stream, and the dead letters."""
    from carloop.bus.jetstream import BusConfig
    from carloop.bus.status import database_status, stream_status
    from carloop.db import make_engine, make_session_factory
    from carloop.handlers import domain_handlers

    settings = _settings(database_url)
    consumers = list(domain_handlers())
    engine = make_engine(settings)
    try:
        with make_session_factory(engine)() as session:
            report: dict[str, Any] = {"bus": settings.event_bus or "database"}
            report.update(database_status(session, consumers))
    finally:
        engine.dispose()
    if settings.event_bus:
        config = BusConfig.from_settings(settings)
        report["stream"] = asyncio.run(stream_status(settings.event_bus, config, consumers))
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return
    _print(report)
    if report["dead_letters"]:
        raise typer.Exit(1)


def _print(report: dict[str, Any]) -> None:
    console.print(f"bus: {report['bus']}  unrelayed outbox rows: {report['unrelayed']}")
    stream = report.get("stream", {})
    table = Table("consumer", "processed", "pending", "in flight", "redelivered")
    for name, count in report["processed"].items():
        on_stream = (stream.get("consumers") or {}).get(name) or {}
        table.add_row(
            name,
            str(count),
            *(str(on_stream.get(k, "—")) for k in ("pending", "in_flight", "redelivered")),
        )
    console.print(table)
    if report["dead_letters"]:
        letters = Table("consumer", "event", "name", "attempts", "last error", title="dead letters")
        for letter in report["dead_letters"]:
            letters.add_row(
                letter["consumer"],
                str(letter["event_id"]),
                letter["name"],
                str(letter["attempts"]),
                letter["last_error"],
            )
        console.print(letters)


@events_app.command("retry")
def retry(
    database_url: DatabaseUrl = None,
    consumer: Annotated[str | None, typer.Option(help="Only this consumer's dead letters.")] = None,
) -> None:
    """Run the handlers of every dead letter once more (here, in this process); handled ones disappear."""
    from carloop.bus.handling import Envelope, dead_letters, handle_once
    from carloop.db import make_engine, make_session_factory
    from carloop.handlers import domain_handlers

    domains = domain_handlers()
    engine = make_engine(_settings(database_url))
    factory = make_session_factory(engine)
    failed = 0
    try:
        with factory() as session:
            letters = [
                (d.consumer, Envelope(d.event_id, d.name, dict(d.payload)))
                for d in dead_letters(session, consumers=[consumer] if consumer else None)
            ]
        for name, event in letters:
            try:
                handle_once(factory, name, domains.get(name, {}), event)
            except Exception as err:  # reported; the dead letter stays
                failed += 1
                console.print(f"[red]{name} event {event.id} ({event.name}) failed again: {err}[/red]")
    finally:
        engine.dispose()
    console.print(f"{len(letters) - failed} dead letters handled, {failed} still failing")
    if failed:
        raise typer.Exit(1)

"""The ``carloop`` command: serve, demo, db, ledger, orders."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from carloop.appointments import reminders as appointment_reminders
from carloop.cli.bench import bench_app, simulate_app
from carloop.cli.community import community_app
from carloop.cli.events import events_app
from carloop.cli.payments import payments_app
from carloop.cli.points import points_app
from carloop.db import make_engine, make_session_factory
from carloop.jobs import cli as jobs_cli
from carloop.settings import Settings

app = typer.Typer(help="carloop: online order, offline delivery, smart service.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
orders_app = typer.Typer(help="Order housekeeping.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(orders_app, name="orders")
app.add_typer(bench_app, name="bench")
app.add_typer(simulate_app, name="simulate")
app.add_typer(points_app, name="points")
app.add_typer(payments_app, name="payments")
app.add_typer(community_app, name="community")
app.add_typer(appointment_reminders.notices_app, name="notices")
app.add_typer(jobs_cli.jobs_app, name="jobs")
app.add_typer(events_app, name="events")

console = Console()
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="Overrides CARLOOP_DATABASE_URL.")]


def _settings(database_url: str | None = None, **overrides: str) -> Settings:
    """The settings from CARLOOP_* (and ``overrides``); a refused configuration exits with its reason."""
    from pydantic import ValidationError

    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        for error in err.errors():
            console.print(f"[red]refusing to start: {error['msg'].removeprefix('Value error, ')}[/red]")
        raise typer.Exit(2) from err
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Migrate the database to the newest schema."""
    from carloop.cli import db

    settings = _settings(database_url)
    db.upgrade(make_engine(settings))
    console.print(f"[green]database at head[/green] ({settings.database_url})")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("-m", "--message")], database_url: DatabaseUrl = None
) -> None:
    """Autogenerate a migration from model changes (developers)."""
    from carloop.cli import db

    db.revision(make_engine(_settings(database_url)), message)


@ledger_app.command("check")
def ledger_check(
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Verify every entry balances, each order holds paid - refunded - forfeited, forfeits at most its
    deposit policy and keeps nothing it can no longer use; exit 1 (naming the order) if not."""
    from carloop.ordering import service as ordering

    engine = make_engine(_settings(database_url))
    try:
        with make_session_factory(engine)() as session:
            report = ordering.check_ledger(session=session)
    finally:
        engine.dispose()  # a pooled PostgreSQL connection left to the collector is a ResourceWarning
    if as_json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "entries": report.entries,
                    "unbalanced_entries": [
                        {"id": i, "key": k, "sum_fen": s} for i, k, s in report.unbalanced_entries
                    ],
                    "mismatches": [
                        {
                            "order_id": m.order_id,
                            "ledger_held_fen": m.ledger_held_fen,
                            "expected_held_fen": m.expected_held_fen,
                            "difference_fen": m.difference_fen,
                        }
                        for m in report.mismatches
                    ],
                    "account_mismatches": [
                        {"account": a, "ledger_fen": have, "records_fen": want}
                        for a, have, want in report.account_mismatches
                    ],
                    "policy_breaches": [
                        {
                            "order_id": b.order_id,
                            "number": b.number,
                            "breach": str(b.what),
                            "amount_fen": b.amount_fen,
                            "limit_fen": b.limit_fen,
                        }
                        for b in report.policy_breaches
                    ],
                    "balances_fen": report.balances,
                }
            )
        )
    else:
        _print_ledger(report)
    raise typer.Exit(0 if report.ok else 1)


def _print_ledger(report: object) -> None:
    from carloop.payments.ledger import LedgerReport

    assert isinstance(report, LedgerReport)
    table = Table(title="Account balances (fen; debit +)")
    table.add_column("account")
    table.add_column("balance", justify="right")
    for account, balance in sorted(report.balances.items()):
        table.add_row(account, f"{balance:,}")
    console.print(table)
    console.print(f"{report.entries} journal entries checked")
    for entry_id, key, total in report.unbalanced_entries:
        console.print(f"[red]entry {entry_id} ({key}) does not balance: sums to {total} fen[/red]")
    for m in report.mismatches:
        console.print(
            f"[red]order {m.order_id}: ledger holds {m.ledger_held_fen} fen, payments say "
            f"{m.expected_held_fen} (paid - refunded - forfeited); difference {m.difference_fen}[/red]"
        )
    for account, have, want in report.account_mismatches:
        console.print(f"[red]account {account}: ledger {have} fen, payment records say {want}[/red]")
    for b in report.policy_breaches:
        console.print(
            f"[red]order {b.number} (id {b.order_id}): {b.what} — {b.amount_fen} fen where the policy "
            f"allows at most {b.limit_fen}[/red]"
        )
    console.print("[green]ledger balanced[/green]" if report.ok else "[red]ledger NOT balanced[/red]")


@orders_app.command("auto-lock")
def orders_auto_lock(database_url: DatabaseUrl = None) -> None:
    """Lock every reserved order whose refundable window has ended."""
    from carloop.ordering import service

    factory = make_session_factory(make_engine(_settings(database_url)))
    with factory.begin() as session:
        count = service.auto_lock_due(session=session)
    console.print(f"{count} orders locked")


@orders_app.command("dispatch-events")
def dispatch_events(database_url: DatabaseUrl = None) -> None:
    """Hand every pending outbox event to its domain handlers (the server also does this itself)."""
    from carloop.handlers import all_handlers
    from carloop.outbox.service import dispatch

    settings = _settings(database_url)
    if settings.event_bus:
        console.print(
            "CARLOOP_EVENT_BUS is set: the JetStream consumers handle events (`carloop events status`)"
        )
        raise typer.Exit(1)
    factory = make_session_factory(make_engine(settings))
    total = 0
    while handled := dispatch(factory, all_handlers(settings)):
        total += handled
    console.print(f"{total} events handled")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Defaults to CARLOOP_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Defaults to CARLOOP_PORT.")] = None,
    workers: Annotated[int, typer.Option(min=1, max=16)] = 1,
    database_url: DatabaseUrl = None,
) -> None:
    """Migrate once, then serve the app with granian (the lanes and the app: ``web.asgi``)."""
    from carloop.cli import db
    from carloop.web.asgi import serve as serve_stack

    settings = _settings(database_url)
    db.upgrade(make_engine(settings))  # once, before any worker starts
    if database_url:
        os.environ["CARLOOP_DATABASE_URL"] = database_url
    serve_stack(host=host or settings.host, port=port or settings.port, workers=workers)


@app.command()
def demo(
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the server after seeding.")
    ] = True,
    launch_orders: Annotated[
        int, typer.Option(min=0, help="Simulated launch orders for the dashboards (first run only).")
    ] = 200_000,
    database_url: DatabaseUrl = None,
    reset: Annotated[
        bool,
        typer.Option("--reset", help="Delete the embedded demo database first and seed a fresh one."),
    ] = False,
) -> None:
    """Migrate the embedded database, load demo accounts and activity, print logins, and serve."""
    from carloop.cli import db
    from carloop.cli.demo import production_traces, remove_sqlite_database, seed

    # The demo is a development server with codes on the page; it asks for that itself.
    settings = _settings(database_url, environment="development", otp_sender="page")
    reasons = production_traces(None, os.environ.get("CARLOOP_ENVIRONMENT"))
    if reset and not reasons:
        removed = remove_sqlite_database(settings.database_url)
        if removed is None:
            console.print(
                "[red]--reset only deletes the embedded SQLite demo database; drop a server database"
                " yourself.[/red]"
            )
            raise typer.Exit(2)
        console.print(f"removed the demo database {removed}; seeding a fresh one")
    engine = make_engine(settings)
    if not reasons:
        db.upgrade(engine)
        with make_session_factory(engine)() as session:
            reasons = production_traces(session, None)
    if reasons:
        engine.dispose()
        console.print(
            "[red]carloop demo refuses to run here: it would add staff logins with published passwords"
            " and orders 'paid' through the payment simulator, which do not belong in a production"
            " database.[/red]"
        )
        for reason in reasons:
            console.print(f"[red]  - {reason}[/red]")
        console.print(
            "Point it at a fresh database instead: carloop demo --database-url sqlite:///./var/demo.db"
        )
        raise typer.Exit(3)
    logins = seed(make_session_factory(engine), settings, console, launch_orders=launch_orders)
    url = f"http://{settings.host}:{settings.port}/"
    table = Table(title="Demo logins (development only)")
    for column in ("who", "sign in with", "secret"):
        table.add_column(column)
    for row in logins:
        table.add_row(*row)
    console.print(table)
    console.print(f"[bold]carloop is at {url}[/bold]  (staff: {url}staff/login; Ctrl+C stops it)")
    console.print("Start over with fresh demo data: carloop demo --reset  (or make demo-reset)")
    engine.dispose()
    if serve_after:
        # The served app reads CARLOOP_* again (one factory per worker): tell it what the demo is.
        os.environ["CARLOOP_ENVIRONMENT"] = "development"
        os.environ["CARLOOP_OTP_SENDER"] = "page"
        serve(host=None, port=None, workers=1, database_url=database_url)


if __name__ == "__main__":
    app()

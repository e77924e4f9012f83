"""``carloop payments ...``: the daily reconciliation of a provider's statement with the books."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from carloop.money import format_fen

payments_app = typer.Typer(help="Payments: reconciliation with the providers.", no_args_is_help=True)
console = Console()


@payments_app.command("reconcile")
def reconcile(
    provider: Annotated[str, typer.Option("--provider", help="alipay or wechat (configured in CARLOOP_*).")],
    day: Annotated[
        str | None, typer.Option("--date", help="The statement day, YYYY-MM-DD (Beijing); default yesterday.")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Overrides CARLOOP_DATABASE_URL.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Compare the provider's statement for a day with carloop's payments and journal, capture payments
    whose notification was lost (idempotently), store the differences; exit 1 if any is still open."""
    from pydantic import ValidationError

    from carloop.clock import SHANGHAI, utcnow
    from carloop.db import make_engine, make_session_factory
    from carloop.errors import DomainError
    from carloop.payments import reconciliation
    from carloop.payments.providers import build_providers
    from carloop.payments.reconciliation_pages import reconcilable
    from carloop.settings import Settings
    from carloop.web.captures import CAPTURE_HANDLERS, LOCK_FIRST

    try:
        settings = Settings()
    except ValidationError as err:
        for error in err.errors():
            console.print(f"[red]refusing to start: {error['msg'].removeprefix('Value error, ')}[/red]")
        raise typer.Exit(2) from err
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    try:
        the_day = (
            date.fromisoformat(day) if day else (utcnow().astimezone(SHANGHAI) - timedelta(days=1)).date()
        )
    except ValueError as err:
        console.print(f"[red]--date must be YYYY-MM-DD, got {day!r}[/red]")
        raise typer.Exit(2) from err
    found = next((p for p in reconcilable(build_providers(settings)) if p.name == provider), None)
    if found is None:
        console.print(f"[red]payment provider {provider!r} is not configured (or cannot reconcile)[/red]")
        raise typer.Exit(2)
    engine = make_engine(settings)
    try:
        with make_session_factory(engine).begin() as session:
            report = reconciliation.reconcile(
                session=session, provider=found, day=the_day, handlers=CAPTURE_HANDLERS, lock_first=LOCK_FIRST
            )
    except DomainError as err:
        console.print(f"[red]reconciliation failed: {err.message}[/red]")
        raise typer.Exit(1) from err
    finally:
        engine.dispose()
    data = report.as_dict()
    if as_json:
        print(json.dumps(data))
    else:
        table = Table(title=f"{provider} {the_day}: {report.lines} statement lines")
        for column in ("difference", "trade", "refund", "carloop", "provider", "fixed"):
            table.add_column(column)
        for d in data["differences"]:
            table.add_row(
                d["kind"],
                d["trade_no"],
                d["refund_no"],
                format_fen(d["carloop_fen"]) if d["carloop_fen"] is not None else "-",
                format_fen(d["provider_fen"]) if d["provider_fen"] is not None else "-",
                "yes" if d["fixed"] else "",
            )
        console.print(table)
    still_open = [d for d in data["differences"] if not d["fixed"]]
    raise typer.Exit(1 if still_open else 0)

"""``carloop community ...``: co-creation board housekeeping."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

DbUrl = Annotated[str | None, typer.Option("--database-url", help="Overrides CARLOOP_DATABASE_URL.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object (no progress bar).")]
Everything = Annotated[
    bool, typer.Option("--all", help="Re-embed every suggestion, not only those without a current vector.")
]

community_app = typer.Typer(help="Co-creation board housekeeping.", no_args_is_help=True)


@community_app.command("reindex")
def reindex(database_url: DbUrl = None, everything: Everything = False, as_json: AsJson = False) -> None:
    """Backfill the suggestions' sentence embeddings (the semantic half of the duplicate hints)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from carloop.community import embedding, semantic
    from carloop.db import make_engine, make_session_factory
    from carloop.settings import Settings

    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    with factory() as session:
        due = semantic.count_due(session=session, everything=everything)
    started = time.perf_counter()
    with Progress(
        TextColumn("embedding suggestions"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=as_json,
    ) as progress:
        task = progress.add_task("embed", total=due)
        done = semantic.backfill(factory, everything=everything, advance=lambda n: progress.advance(task, n))
    seconds = time.perf_counter() - started
    engine.dispose()
    report = {
        "embedded": done,
        "model": embedding.MODEL,
        "seconds": round(seconds, 2),
        "ms_per_suggestion": round(seconds * 1000 / done, 2) if done else None,
    }
    if as_json:
        print(json.dumps(report))
    else:
        print(f"{done} suggestions embedded with {embedding.MODEL} in {seconds:.1f} s")

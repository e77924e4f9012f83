"""``carloop points ...``: owner points housekeeping."""

from __future__ import annotations

import json
from typing import Annotated

import typer

DbUrl = Annotated[str | None, typer.Option("--database-url", help="Overrides CARLOOP_DATABASE_URL.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]

points_app = typer.Typer(help="Owner points housekeeping.", no_args_is_help=True)


@points_app.command("expire")
def points_expire(
    database_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Lapse earned points past their expiry for every owner (each owner in its own transaction)."""
    from carloop.clock import utcnow
    from carloop.db import make_engine, make_session_factory
    from carloop.loyalty import service
    from carloop.settings import Settings

    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    now = utcnow()
    with factory() as session:
        owners = service.owners_with_lapsed_lots(session=session, now=now)
    expired: dict[int, int] = {}
    for customer_id in owners:
        with factory.begin() as session:
            points = service.expire_points(session=session, customer_id=customer_id, now=now)
        if points:
            expired[customer_id] = points
    engine.dispose()
    report = {
        "owners_checked": len(owners),
        "owners_expired": len(expired),
        "points_expired": sum(expired.values()),
    }
    if as_json:
        print(json.dumps(report))
    else:
        print(
            f"{report['points_expired']} points expired for {report['owners_expired']} owners "
            f"({report['owners_checked']} checked)"
        )

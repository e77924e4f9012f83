"""Demo data for analytics: a simulated launch and the illustrative market sample."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from carloop.analytics import live, service, simulate
from carloop.clock import utcnow
from carloop.settings import Settings


def seed_demo(
    *,
    session: Session,
    settings: Settings,
    orders: int = 200_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Add a simulated launch and the market sample in the caller's transaction; returns the events."""
    if not service.market_structure(session=session):
        rows = service.parse_market_csv(service.sample_market_csv())
        service.import_market_sales(session=session, rows=rows, source="illustrative sample (not real data)")
    session.flush()
    count, _ = simulate.launch(
        session.connection(),
        orders=orders,
        now=utcnow(),
        snapshot=live.snapshot_path(settings),
        progress=progress,
    )
    return count

"""Demo seeding and the Parquet snapshot the dashboard starts from."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.analytics import live, service
from carloop.analytics.models import FunnelEvent
from carloop.analytics.warehouse import Filters, dashboard
from carloop.bench.launch_data import seed_demo
from carloop.settings import Settings


def test_seed_demo_fills_the_funnel_and_the_market_and_writes_a_current_snapshot(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    seen: list[int] = []
    with session_factory.begin() as session:
        events = seed_demo(session=session, settings=settings, orders=250, progress=seen.append)
    with session_factory() as session:
        stored = session.scalar(select(func.count()).select_from(FunnelEvent))
        assert service.market_structure(session=session)
        assert "illustrative" in service.market_sources(session=session)[0]
    assert stored == events == sum(seen) > 250
    snapshot = live.snapshot_path(settings)
    engine = session_factory.kw["bind"]
    if snapshot is None:  # PostgreSQL: no file beside the database, the warehouse reads the table
        warehouse = live.open_warehouse(engine, settings)
    else:
        assert snapshot.exists() and live.snapshot_matches(engine, snapshot)
        warehouse = live.open_warehouse(engine, settings)
    assert warehouse.count() == events
    assert dict(dashboard(warehouse, Filters())["totals"].rows)["reservations"] == 250


def test_a_snapshot_of_a_database_that_was_reset_is_ignored(
    session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    with session_factory.begin() as session:
        seed_demo(session=session, settings=settings, orders=50)
    with session_factory.begin() as session:
        session.execute(delete(FunnelEvent))
    engine = session_factory.kw["bind"]
    snapshot = live.snapshot_path(settings)
    if snapshot is not None:
        assert snapshot.exists() and not live.snapshot_matches(engine, snapshot)
    assert live.open_warehouse(engine, settings).count() == 0

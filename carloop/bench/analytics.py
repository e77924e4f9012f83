"""``carloop bench analytics`` and ``carloop simulate launch``: the dashboard at scale, and demo data."""

from __future__ import annotations

import statistics
import time
from typing import Any

TARGET_P95_MS = 500.0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def run_bench(*, orders: int, runs: int, seed: int, show: bool) -> dict[str, Any]:
    """Generate the launch into an in-memory warehouse and time ``dashboard`` over it."""
    import os
    from datetime import timedelta

    import duckdb
    from rich.progress import Progress

    from carloop.analytics.rules import Channel
    from carloop.analytics.warehouse import Filters, Warehouse, dashboard
    from carloop.bench import launch_data as simulate
    from carloop.clock import utcnow

    now = utcnow()
    launch_at, end = simulate.default_window(now)
    warehouse = Warehouse()
    started = time.perf_counter()
    events = simulate.build_into(warehouse, orders=orders, launch_at=launch_at, now=end, seed=seed)
    build_s = time.perf_counter() - started
    launch_day = (launch_at + timedelta(hours=8)).date()
    variants = [
        Filters(),
        Filters(model="su7"),
        Filters(channel=Channel.APP),
        Filters(date_from=launch_day, date_to=launch_day + timedelta(days=6)),
    ]
    # New events arriving while HQ watches: a second, small launch appended in slices between renders.
    extra = duckdb.connect()
    simulate.build(extra, orders=runs * 100, launch_at=launch_at, now=end, seed=seed + 1, first_id=events + 1)
    arriving = extra.execute("SELECT * FROM sim ORDER BY ts").fetch_arrow_table()
    size = max(1, arriving.num_rows // runs)
    main: list[float] = []
    filtered: list[float] = []
    live: list[float] = []
    for _ in range(2):  # warm-up
        dashboard(warehouse, Filters())
    with Progress(disable=not show) as progress:
        task = progress.add_task("dashboard renders", total=runs * 3)
        for i in range(runs):
            t0 = time.perf_counter()
            tables = dashboard(warehouse, Filters())
            main.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            dashboard(warehouse, variants[1 + i % (len(variants) - 1)])
            filtered.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            warehouse.append(arriving.slice(i * size, size))
            dashboard(warehouse, Filters())
            live.append((time.perf_counter() - t0) * 1000)
            progress.advance(task, 3)
    reservations = dict(dashboard(warehouse, Filters())["totals"].rows)["reservations"] - runs * 100
    p95 = _percentile(main, 0.95)
    return {
        "orders": reservations,
        "events": events,
        "build_s": round(build_s, 1),
        "runs": runs,
        "p50_ms": round(statistics.median(main), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(max(main), 1),
        "filtered_p95_ms": round(_percentile(filtered, 0.95), 1),
        "live_batch_events": size,
        "live_p95_ms": round(_percentile(live, 0.95), 1),
        "tables": len(tables),
        "target_p95_ms": TARGET_P95_MS,
        "met": p95 <= TARGET_P95_MS,
        "cpus": os.cpu_count(),
    }


def run_simulation(*, orders: int, seed: int, database_url: str | None, show: bool) -> dict[str, Any]:
    """Write a simulated launch into the configured database with a progress bar."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from carloop.analytics import live, service
    from carloop.analytics.models import FunnelEvent, MarketSale
    from carloop.bench import launch_data as simulate
    from carloop.clock import utcnow
    from carloop.db import Base, enable_wal, make_engine, make_session_factory
    from carloop.settings import Settings

    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    engine = make_engine(settings)
    enable_wal(engine)
    for model in (FunnelEvent, MarketSale):  # until the migration that adds them lands
        Base.metadata.tables[model.__tablename__].create(engine, checkfirst=True)
    started = time.perf_counter()
    with make_session_factory(engine).begin() as session:
        if not service.market_structure(session=session):
            rows = service.parse_market_csv(service.sample_market_csv())
            service.import_market_sales(
                session=session, rows=rows, source="illustrative sample (not real data)"
            )
    expected = orders * 10
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} events"),
        TimeElapsedColumn(),
        disable=not show,
    ) as progress:
        task = progress.add_task("simulated launch", total=expected)

        with engine.begin() as conn:
            events, warehouse = simulate.launch(
                conn,
                orders=orders,
                now=utcnow(),
                snapshot=live.snapshot_path(settings),
                seed=seed,
                progress=lambda n: progress.advance(task, n),
            )
        progress.update(task, total=events, completed=events)
    seconds = time.perf_counter() - started
    return {
        "orders": orders,
        "events": events,
        "seconds": round(seconds, 1),
        "events_per_s": round(events / seconds) if seconds else None,
        "warehouse_events": warehouse.count(),
        "database": engine.dialect.name,
    }

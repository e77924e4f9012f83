"""The warehouse of a running app: created on first use, loaded from a snapshot, kept in sync."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import Connection, Engine, select

from carloop.analytics.models import FunnelEvent
from carloop.analytics.warehouse import Warehouse
from carloop.settings import Settings

log = logging.getLogger("carloop.analytics")
_create = threading.Lock()


def snapshot_path(settings: Settings) -> Path | None:
    """Where a Parquet snapshot of the funnel events lives (beside the SQLite file), if anywhere."""
    db = settings.sqlite_path()
    return db.with_name(db.name + ".funnel.parquet") if db is not None else None


def snapshot_matches(bind: Engine | Connection, path: Path) -> bool:
    """Whether the snapshot's newest row is still in the database (a reset database makes it stale)."""
    with duckdb.connect() as db:
        last = db.execute(
            "SELECT id, stage, anon_id FROM read_parquet(?) ORDER BY id DESC LIMIT 1", [str(path)]
        ).fetchone()
    if last is None:
        return False
    table = FunnelEvent.__table__
    query = select(table.c.stage, table.c.anon_id).where(table.c.id == last[0])
    if isinstance(bind, Connection):
        row = bind.execute(query).first()
    else:
        with bind.connect() as conn:
            row = conn.execute(query).first()
    return row is not None and (str(row[0]), row[1]) == (last[1], last[2])


def open_warehouse(bind: Engine | Connection, settings: Settings) -> Warehouse:
    """A new in-memory warehouse: the snapshot if it is current, then everything newer from the database."""
    warehouse = Warehouse()
    path = snapshot_path(settings)
    if path is not None and path.exists():
        try:
            if snapshot_matches(bind, path):
                warehouse.load_parquet(path)
        except duckdb.Error:
            log.warning("analytics snapshot %s is unreadable; reading the database instead", path)
    warehouse.sync(bind)
    return warehouse


def warehouse_for(state: Any, bind: Connection) -> Warehouse:
    """The app's warehouse (``app.state``), brought up to date through the request's connection."""
    warehouse: Warehouse | None = getattr(state, "analytics_warehouse", None)
    if warehouse is None:
        with _create:
            warehouse = getattr(state, "analytics_warehouse", None)
            if warehouse is None:
                warehouse = open_warehouse(bind, state.settings)
                state.analytics_warehouse = warehouse
                return warehouse
    warehouse.sync(bind)
    return warehouse


def warm_up(state: Any) -> threading.Thread | None:
    """Load the app's warehouse in the background when a snapshot exists, so the first dashboard is quick.

    Returns the thread (None when there is no snapshot to load); requests that arrive meanwhile wait for
    it on the creation lock, as they would have waited for the load themselves.
    """
    path = snapshot_path(state.settings)
    if path is None or not path.exists() or getattr(state, "analytics_warehouse", None) is not None:
        return None

    def load() -> None:
        try:
            with state.engine.connect() as conn:
                warehouse_for(state, conn)
        except Exception:  # a failed warm-up leaves the first request to load it and report
            log.exception("analytics warm-up failed")

    thread = threading.Thread(target=load, name="analytics-warm-up", daemon=True)
    thread.start()
    return thread

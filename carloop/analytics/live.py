"""The warehouse of a running app: created on first use, loaded from a snapshot, kept in sync."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session, sessionmaker

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


class LiveWarehouse:
    """The server's warehouse: opened once (from the snapshot, then the database), then kept in sync."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._warehouse: Warehouse | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def get(self, bind: Connection) -> Warehouse:
        """The warehouse, opened on first use, brought up to date through ``bind``."""
        warehouse = self._warehouse
        if warehouse is None:
            with self._lock:
                warehouse = self._warehouse
                if warehouse is None:
                    warehouse = self._warehouse = open_warehouse(bind, self.settings)
                    return warehouse
        warehouse.sync(bind)
        return warehouse

    def warm_up(self, sessions: sessionmaker[Session]) -> None:
        """Load it in the background when a snapshot exists, so the first dashboard is quick; requests
        that arrive meanwhile wait on the lock, as they would have waited for the load themselves."""
        path = snapshot_path(self.settings)
        if path is None or not path.exists() or self._warehouse is not None:
            return

        def load() -> None:
            try:
                with sessions() as session:
                    self.get(session.connection())
            except Exception:  # a failed warm-up leaves the first request to load it and report
                log.exception("analytics warm-up failed")

        self._thread = threading.Thread(target=load, name="analytics-warm-up", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Wait (briefly) for a warm-up still running."""
        if self._thread is not None:
            self._thread.join(timeout=30)


def start(settings: Settings, sessions: sessionmaker[Session]) -> LiveWarehouse:
    """The server's analytics component: the live warehouse, warming up in the background."""
    live = LiveWarehouse(settings)
    live.warm_up(sessions)
    return live


def warehouse_for(state: Any, bind: Connection) -> Warehouse:
    """The app's warehouse (``app.state.analytics``, made here if the app was not started), up to date."""
    live: LiveWarehouse | None = getattr(state, "analytics", None)
    if live is None:
        with _create:
            live = getattr(state, "analytics", None)
            if live is None:
                live = state.analytics = LiveWarehouse(state.settings)
    return live.get(bind)

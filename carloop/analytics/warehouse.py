"""The analytics warehouse: funnel events mirrored into DuckDB, queried for the dashboard.

The system of record is the ``analytics_funnel_event`` table in the main database. A process keeps
an in-memory DuckDB copy and appends the rows it has not seen yet (by id) before answering, so the
dashboard is live without scanning the transactional database. DuckDB can also read a Parquet export
of the same columns (``load_parquet``), which is how the data scales past one machine.
"""

# ruff: noqa: S608 - queries join fixed fragments; every filter value is a bound parameter

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
from sqlalchemy import Connection, Engine, select

from carloop.analytics.models import FunnelEvent
from carloop.analytics.rules import FUNNEL, ONLINE, Channel

COLUMNS = (
    ("id", "BIGINT", pa.int64()),
    ("ts", "TIMESTAMP", pa.timestamp("us")),  # UTC; "at" in the main database
    ("stage", "VARCHAR", pa.string()),
    ("channel", "VARCHAR", pa.string()),
    ("anon_id", "VARCHAR", pa.string()),
    ("order_id", "BIGINT", pa.int64()),
    ("model", "VARCHAR", pa.string()),
    ("trim", "VARCHAR", pa.string()),
    ("total_fen", "BIGINT", pa.int64()),
    ("city", "VARCHAR", pa.string()),
    ("province", "VARCHAR", pa.string()),
    ("city_tier", "VARCHAR", pa.string()),
    ("age_band", "VARCHAR", pa.string()),
    ("gender", "VARCHAR", pa.string()),
    ("simulated", "BOOLEAN", pa.bool_()),
)
SCHEMA = pa.schema([(name, kind) for name, _, kind in COLUMNS])
OLTP_NAMES = {"ts": "at"}  # warehouse column -> main database column, where they differ
CHINA = timedelta(hours=8)  # Asia/Shanghai has no daylight saving: local time is UTC+8
BATCH = 200_000
# Breakdowns of paid orders: (dimension, first key, second key) -> the columns they read.
BREAKDOWNS: dict[str, tuple[str, str | None]] = {
    "age_band": ("age_band", None),
    "gender": ("gender", None),
    "city_tier": ("city_tier", None),
    "channel": ("channel", None),
    "province": ("province", None),
    "city": ("province", "city"),
    "configuration": ("model", "trim"),
}
CN_DAY = "date_trunc('day', {t} + INTERVAL 8 HOUR) - INTERVAL 8 HOUR"  # China-local day start, as UTC
# Kept with every append, so the dashboard reads small tables, never every event:
#   hourly: events per UTC hour, stage, channel and model (funnel, launch curve, endings);
#   dims:   paid orders per China day, channel, model and one breakdown's keys;
#   lead:   deliveries per China day, channel, model and whole weeks since the order locked.
ROLLUPS = (
    "INSERT INTO hourly SELECT date_trunc('hour', ts), stage, channel, model, count(*) FROM {source} "
    "GROUP BY ALL",
    "INSERT INTO dims "
    + " UNION ALL ".join(
        f"SELECT {CN_DAY.format(t='ts')}, channel, model, '{name}', CAST({k1} AS VARCHAR), "
        f"{'CAST(' + k2 + ' AS VARCHAR)' if k2 else 'NULL'}, count(*) FROM {{source}} WHERE stage = 'paid' "
        "GROUP BY ALL"
        for name, (k1, k2) in BREAKDOWNS.items()
    ),
    f"INSERT INTO lead SELECT {CN_DAY.format(t='d.ts')}, d.channel, d.model, "
    "CAST(floor(date_diff('day', l.ts, d.ts) / 7) AS INTEGER), count(*) "
    "FROM {source} d JOIN funnel l ON l.order_id = d.order_id AND l.stage = 'locked' "
    "WHERE d.stage = 'delivered' GROUP BY ALL",
)
RESORT_AFTER = 100_000  # a sync that brought this many rows re-clusters the table

# Every table behind a chart, by name (the export URLs use these names).
TABLES = (
    "totals",
    "funnel",
    "launch_curve",
    "endings",
    "age_band",
    "gender",
    "city_tier",
    "channel",
    "province",
    "city",
    "configuration",
    "lead_time",
)


@dataclass(frozen=True, slots=True)
class Filters:
    """What the dashboard is narrowed to; dates are China local days, inclusive."""

    model: str | None = None
    channel: Channel | None = None
    date_from: date | None = None
    date_to: date | None = None

    def where(self, alias: str = "") -> tuple[str, list[Any]]:
        """A SQL condition and its parameters."""
        prefix = f"{alias}." if alias else ""
        parts, params = ["TRUE"], list[Any]()
        if self.model:
            parts.append(f"{prefix}model = ?")
            params.append(self.model)
        if self.channel:
            parts.append(f"{prefix}channel = ?")
            params.append(str(self.channel))
        if self.date_from:
            parts.append(f"{prefix}ts >= ?")
            params.append(datetime.combine(self.date_from, datetime.min.time()) - CHINA)
        if self.date_to:
            parts.append(f"{prefix}ts < ?")
            params.append(datetime.combine(self.date_to + timedelta(days=1), datetime.min.time()) - CHINA)
        return " AND ".join(parts), params


@dataclass(slots=True)
class Table:
    """One result behind a chart: column names and rows."""

    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Warehouse:
    """An in-process DuckDB holding the funnel events; safe to share between request threads."""

    def __init__(self, path: str = ":memory:") -> None:
        self.db = duckdb.connect(path)
        self.db.execute("SET TimeZone = 'UTC'")
        columns = ", ".join(f"{name} {sql}" for name, sql, _ in COLUMNS)
        self.db.execute(f"CREATE TABLE IF NOT EXISTS funnel ({columns})")
        # Counts per UTC hour, stage, channel and model, kept with every append: the funnel, the launch
        # curve and the endings read this small table instead of every event.
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS hourly "
            "(ts TIMESTAMP, stage VARCHAR, channel VARCHAR, model VARCHAR, n BIGINT)"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS dims (ts TIMESTAMP, channel VARCHAR, model VARCHAR, dim VARCHAR, "
            "k1 VARCHAR, k2 VARCHAR, n BIGINT)"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS lead "
            "(ts TIMESTAMP, channel VARCHAR, model VARCHAR, weeks INTEGER, n BIGINT)"
        )
        self.lock = threading.Lock()
        self.synced_id = self._max_id()

    def _max_id(self) -> int:
        row = self.db.execute("SELECT coalesce(max(id), 0) FROM funnel").fetchone()
        return int(row[0]) if row else 0

    def append(self, batch: pa.Table) -> int:
        """Append rows shaped like ``SCHEMA``; returns how many."""
        with self.lock:
            self.db.register("incoming", batch)
            try:
                self.db.execute("INSERT INTO funnel SELECT * FROM incoming")
                self.roll_up("incoming")
            finally:
                self.db.unregister("incoming")
            self.synced_id = self._max_id()
        return batch.num_rows

    def roll_up(self, source: str) -> None:
        """Count table ``source`` (already in ``funnel``) into the rollups; the caller holds the lock."""
        for statement in ROLLUPS:
            self.db.execute(statement.format(source=source))

    def load_parquet(self, path: Path) -> int:
        """Append a Parquet export (the columns of ``SCHEMA``); returns how many rows."""
        with self.lock:
            before = self.count()
            if before == 0:
                # The usual case, a fresh app: the export is already clustered by stage and time.
                self.db.execute("INSERT INTO funnel SELECT * FROM read_parquet(?)", [str(path)])
                self.roll_up("funnel")
                self.synced_id = self._max_id()
                return self.count()
            self.db.execute("CREATE TEMP TABLE incoming AS SELECT * FROM read_parquet(?)", [str(path)])
            self.db.execute("INSERT INTO funnel SELECT * FROM incoming ORDER BY stage, ts")
            self.roll_up("incoming")
            self.db.execute("DROP TABLE incoming")
            self.synced_id = self._max_id()
            return self.count() - before

    def export_parquet(self, path: Path) -> None:
        """Write every event to one Parquet file, clustered by stage and time as the table is queried."""
        with self.lock:
            self.db.execute(
                f"COPY (SELECT * FROM funnel ORDER BY stage, ts) TO '{_quoted(path)}' (FORMAT parquet)"
            )

    def count(self) -> int:
        """How many events the warehouse holds."""
        row = self.db.execute("SELECT count(*) FROM funnel").fetchone()
        return int(row[0]) if row else 0

    def sync(self, bind: Engine | Connection) -> int:
        """Copy the events committed since the last sync from the main database; returns how many."""
        copied = 0
        for batch in read_events(bind, after_id=self.synced_id):
            copied += self.append(batch)
        if copied >= RESORT_AFTER:
            self.cluster()
        return copied

    def cluster(self) -> None:
        """Rewrite the table ordered by stage and time, so each chart's query reads only its stage."""
        with self.lock:
            self.db.execute("CREATE OR REPLACE TABLE funnel AS SELECT * FROM funnel ORDER BY stage, ts")

    def query(self, sql: str, params: Sequence[Any] = ()) -> Table:
        """Run one read query on a private cursor."""
        cursor = self.db.cursor()
        try:
            result = cursor.execute(sql, list(params))
            names = [d[0] for d in result.description or ()]
            return Table(names, [list(row) for row in result.fetchall()])
        finally:
            cursor.close()


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def read_events(
    bind: Engine | Connection, *, after_id: int = 0, until_id: int | None = None, batch: int = BATCH
) -> Iterator[pa.Table]:
    """Events with ``after_id < id`` (and ``id < until_id``) from the main database, as Arrow batches."""
    table = FunnelEvent.__table__
    names = [OLTP_NAMES.get(name, name) for name, _, _ in COLUMNS]
    cursor_id = after_id
    while True:
        query = select(*(table.c[n] for n in names)).where(table.c.id > cursor_id).order_by(table.c.id)
        if until_id is not None:
            query = query.where(table.c.id < until_id)
        if isinstance(bind, Connection):
            rows = bind.execute(query.limit(batch)).all()
        else:
            with bind.connect() as conn:
                rows = conn.execute(query.limit(batch)).all()
        if not rows:
            return
        columns = [list(col) for col in zip(*rows, strict=True)]
        at = names.index("at")
        columns[at] = [_naive_utc(moment) for moment in columns[at]]
        yield pa.Table.from_arrays(
            [pa.array(c, type=kind) for c, (_, _, kind) in zip(columns, COLUMNS, strict=True)], schema=SCHEMA
        )
        cursor_id = rows[-1][0]


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def dashboard(warehouse: Warehouse, filters: Filters, only: str | None = None) -> dict[str, Table]:
    """Every table behind the dashboard's charts (or just ``only``), for ``filters``."""
    where, params = filters.where()
    wanted = set(TABLES) if only is None else {only}
    out: dict[str, Table] = {}
    if wanted & {"totals", "funnel"}:
        stages = warehouse.query(
            f"SELECT stage, sum(n)::BIGINT AS events FROM hourly WHERE {where} GROUP BY stage",
            params,
        )
        counts = {row[0]: row[1] for row in stages.rows}
        out["funnel"] = Table(["stage", "events"], [[str(stage), counts.get(stage, 0)] for stage in FUNNEL])
        online = warehouse.query(
            f"SELECT coalesce(sum(n) FILTER (WHERE channel IN ({', '.join('?' for _ in ONLINE)})), 0)"
            "::BIGINT, "
            f"coalesce(sum(n), 0)::BIGINT FROM hourly WHERE stage = 'paid' AND {where}",
            [*sorted(ONLINE), *params],
        )
        online_n, paid_n = online.rows[0] if online.rows else (0, 0)
        out["totals"] = Table(
            ["metric", "value"],
            [
                ["reservations", counts.get("reservation_started", 0)],
                ["paid", counts.get("paid", 0)],
                ["locked", counts.get("locked", 0)],
                ["refunded", counts.get("refunded", 0)],
                ["cancelled", counts.get("cancelled", 0)],
                ["delivered", counts.get("delivered", 0)],
                ["online_share", round(online_n / paid_n, 4) if paid_n else None],
            ],
        )
    if "launch_curve" in wanted:
        out["launch_curve"] = warehouse.query(
            "SELECT ts + INTERVAL 8 HOUR AS hour, "
            "coalesce(sum(n) FILTER (WHERE stage = 'reservation_started'), 0)::BIGINT AS reservations, "
            "coalesce(sum(n) FILTER (WHERE stage = 'paid'), 0)::BIGINT AS paid, "
            "coalesce(sum(n) FILTER (WHERE stage = 'locked'), 0)::BIGINT AS locked "
            f"FROM hourly WHERE stage IN ('reservation_started', 'paid', 'locked') AND {where} "
            "GROUP BY 1 ORDER BY 1",
            params,
        )
    if "endings" in wanted:
        out["endings"] = warehouse.query(
            "SELECT CAST(ts + INTERVAL 8 HOUR AS DATE) AS day, "
            "coalesce(sum(n) FILTER (WHERE stage = 'refunded'), 0)::BIGINT AS refunded, "
            "coalesce(sum(n) FILTER (WHERE stage = 'cancelled'), 0)::BIGINT AS cancelled "
            f"FROM hourly WHERE stage IN ('refunded', 'cancelled') AND {where} GROUP BY 1 ORDER BY 1",
            params,
        )
    for name in (n for n in BREAKDOWNS if n in wanted):
        first, second = BREAKDOWNS[name]
        keys = "k1" if second is None else "k1, k2"
        found = warehouse.query(
            f"SELECT {keys}, sum(n)::BIGINT AS orders FROM dims WHERE dim = ? AND {where} "
            f"GROUP BY ALL ORDER BY orders DESC, {keys}",
            [name, *params],
        )
        out[name] = Table([first, *([second] if second else []), "orders"], found.rows)
    if "lead_time" in wanted:
        out["lead_time"] = warehouse.query(
            f"SELECT weeks, sum(n)::BIGINT AS orders FROM lead WHERE {where} GROUP BY 1 ORDER BY 1", params
        )
    return out

"""A simulated launch: hundreds of thousands of orders with a believable curve, buyer mix and endings.

The events are generated inside DuckDB with seeded hashes (vectorised, reproducible), then either
kept there (the benchmark) or copied into the main database in batches (``carloop simulate launch``).
Every simulated row carries ``simulated = true`` and synthetic order ids, so it never passes for a
real order.
"""

# ruff: noqa: S608 - the SQL is assembled from numbers and fixed fragments, never from input

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from carloop.analytics import live, service
from carloop.analytics.models import FunnelEvent
from carloop.analytics.service import cities
from carloop.analytics.warehouse import OLTP_NAMES, SCHEMA, Warehouse, read_events
from carloop.clock import utcnow
from carloop.settings import Settings

SYNTHETIC_ORDER_IDS = 1_000_000_000_000  # simulated order ids start here; real ids stay far below


@dataclass(frozen=True, slots=True)
class LaunchShape:
    """The knobs of a simulated launch (shares are of the step before)."""

    views_per_order: int = 5
    quotes_per_order: int = 2
    paid: float = 0.93  # reservations whose deposit is paid
    locked: float = 0.70  # paid orders that lock; the rest are refunded within the window
    cancelled_after_lock: float = 0.03  # locked orders cancelled later (deposit forfeited)
    first_hour: float = 0.5  # share of reservations in the launch spike (time constant 15 minutes)
    tail_days: float = 2.0  # time constant of the long tail after the spike


BENCH_SHAPE = LaunchShape()  # about 10 events per order, as the benchmark asks
DEMO_SHAPE = LaunchShape(views_per_order=2, quotes_per_order=1)  # about 6: a lighter demo database

# model, trim, price (fen), weight: what the launch sold.
TRIMS = (
    ("su7", "standard", 21_590_000, 0.42),
    ("su7", "pro", 24_590_000, 0.18),
    ("su7", "max", 29_990_000, 0.25),
    ("su7", "founders", 29_990_000, 0.01),
    ("yu7", "standard", 25_350_000, 0.08),
    ("yu7", "pro", 27_990_000, 0.03),
    ("yu7", "max", 32_990_000, 0.03),
)
AGE_WEIGHTS = (
    ("18-24", 0.08),
    ("25-29", 0.24),
    ("30-34", 0.26),
    ("35-40", 0.19),
    ("41-49", 0.15),
    ("50+", 0.08),
)
GENDER_WEIGHTS = (("male", 0.68), ("female", 0.28), ("unknown", 0.04))
# Online (app, web, mini-program) about 40%, the rest taken in stores.
CHANNEL_WEIGHTS = (("app", 0.22), ("web", 0.10), ("mini_program", 0.08), ("store", 0.60))


def _ranges(name: str, rows: list[tuple[object, ...]], weights: list[float]) -> str:
    total, lo, parts = sum(weights), 0.0, []
    for row, weight in zip(rows, weights, strict=True):
        hi = lo + weight / total
        values = ", ".join(
            repr(v) if not isinstance(v, str) else "'" + v.replace("'", "''") + "'" for v in row
        )
        parts.append(f"({values}, {lo!r}, {hi if hi < 0.999999 else 1.000001!r})")
        lo = hi
    return f"{name} AS (SELECT * FROM (VALUES {', '.join(parts)}))"


def build(
    db: duckdb.DuckDBPyConnection,
    *,
    orders: int,
    launch_at: datetime,
    now: datetime,
    seed: int = 8,
    first_id: int = 1,
    shape: LaunchShape | None = None,
) -> int:
    """Create table ``sim`` (the warehouse columns) with a launch of ``orders``; returns its row count."""
    s = shape or LaunchShape()
    launch = launch_at.astimezone(UTC).replace(tzinfo=None)
    end = now.astimezone(UTC).replace(tzinfo=None)
    town = list(cities().values())
    ctes = [
        _ranges("towns", [(c.city, c.province, c.tier) for c in town], [c.weight for c in town]),
        _ranges("trims", [t[:3] for t in TRIMS], [t[3] for t in TRIMS]),
        _ranges("ages", [(a,) for a, _ in AGE_WEIGHTS], [w for _, w in AGE_WEIGHTS]),
        _ranges("sexes", [(g,) for g, _ in GENDER_WEIGHTS], [w for _, w in GENDER_WEIGHTS]),
        _ranges("chans", [(c,) for c, _ in CHANNEL_WEIGHTS], [w for _, w in CHANNEL_WEIGHTS]),
    ]

    def u(k: int) -> str:
        return f"((hash(n, {seed}, {k}) % 1000003) / 1000003.0)"

    span = max((end - launch).total_seconds(), 1.0)
    start_sql = f"TIMESTAMP '{launch.isoformat(sep=' ')}'"
    sql = f"""
    CREATE OR REPLACE TEMP TABLE sim_orders AS
    WITH {", ".join(ctes)},
    base AS (
      SELECT range AS n, {SYNTHETIC_ORDER_IDS} + {seed} * 100000000 + range AS order_id,
        least({span}, CASE WHEN {u(1)} < {s.first_hour} THEN -ln(1 - {u(2)}) * 900
                           ELSE -ln(1 - {u(2)}) * 86400 * {s.tail_days} END) AS offset_s,
        {u(3)} AS u_paid, {u(4)} AS u_pay_delay, {u(5)} AS u_lock, {u(6)} AS u_lock_delay,
        {u(7)} AS u_cancel, {u(8)} AS u_cancel_delay, {u(9)} AS u_lead,
        {u(10)} AS u_town, {u(11)} AS u_trim, {u(12)} AS u_age, {u(13)} AS u_sex, {u(14)} AS u_chan
      FROM range({int(orders)})
    )
    SELECT b.*,
      {start_sql} + to_microseconds(CAST(offset_s * 1e6 AS BIGINT)) AS reserved_at,
      towns.col0 AS city, towns.col1 AS province, towns.col2 AS city_tier,
      trims.col0 AS model, trims.col1 AS trim, trims.col2 AS total_fen,
      ages.col0 AS age_band, sexes.col0 AS gender, chans.col0 AS channel,
      's' || CAST(hash(n, {seed}, 99) AS VARCHAR) AS buyer
    FROM base b
      ASOF JOIN towns ON u_town >= towns.col3
      ASOF JOIN trims ON u_trim >= trims.col3
      ASOF JOIN ages ON u_age >= ages.col1
      ASOF JOIN sexes ON u_sex >= sexes.col1
      ASOF JOIN chans ON u_chan >= chans.col1
    """
    db.execute(sql)
    now_sql = f"TIMESTAMP '{end.isoformat(sep=' ')}'"
    common = "channel, model, trim, total_fen, city, province, city_tier, age_band, gender"
    parts = [
        # Model views and priced configurations before the reservation: one by the buyer, others by visitors.
        f"""SELECT reserved_at - to_microseconds(CAST(((hash(n, k, {seed}, 21) % 1000003) / 1000003.0)
              * 172800e6 AS BIGINT)) AS ts, 'model_viewed' AS stage,
              CASE WHEN k = 0 THEN buyer ELSE 'v' || CAST(hash(n, k, {seed}) AS VARCHAR) END AS anon_id,
              NULL::BIGINT AS order_id, {common}
            FROM sim_orders, range({s.views_per_order}) t(k)""",
        f"""SELECT reserved_at - to_microseconds(CAST(((hash(n, k, {seed}, 22) % 1000003) / 1000003.0)
              * 3600e6 AS BIGINT)) AS ts, 'configuration_priced',
              CASE WHEN k = 0 THEN buyer ELSE 'v' || CAST(hash(n, k, {seed}) AS VARCHAR) END,
              NULL::BIGINT, {common}
            FROM sim_orders, range({s.quotes_per_order}) t(k)""",
        f"SELECT reserved_at, 'reservation_started', buyer, order_id, {common} FROM sim_orders",
        """CREATE_PAID""",
    ]
    paid = f"""CREATE OR REPLACE TEMP TABLE sim_paid AS
      SELECT *, reserved_at + to_microseconds(CAST((30 + u_pay_delay * 600) * 1e6 AS BIGINT)) AS paid_at,
        u_lock < {s.locked} AS locks,
        reserved_at + to_microseconds(CAST((30 + u_pay_delay * 600 + u_lock_delay * u_lock_delay * 604800)
          * 1e6 AS BIGINT)) AS ended_at
      FROM sim_orders WHERE u_paid < {s.paid}"""
    db.execute(paid)
    parts[3] = f"SELECT paid_at, 'paid', buyer, order_id, {common} FROM sim_paid WHERE paid_at < {now_sql}"
    parts += [
        f"SELECT ended_at, 'locked', buyer, order_id, {common} FROM sim_paid "
        f"WHERE locks AND ended_at < {now_sql}",
        f"SELECT ended_at, 'refunded', buyer, order_id, {common} FROM sim_paid "
        f"WHERE NOT locks AND ended_at < {now_sql}",
        f"""SELECT ended_at + to_microseconds(CAST(u_cancel_delay * 60 * 86400e6 AS BIGINT)), 'cancelled',
              buyer, order_id, {common} FROM sim_paid
              WHERE locks AND u_cancel < {s.cancelled_after_lock}
              AND ended_at + to_microseconds(CAST(u_cancel_delay * 60 * 86400e6 AS BIGINT)) < {now_sql}""",
        f"""SELECT ended_at + to_microseconds(CAST((28 + u_lead * 90) * 86400e6 AS BIGINT)), 'delivered',
              buyer, order_id, {common} FROM sim_paid
              WHERE locks AND u_cancel >= {s.cancelled_after_lock}
              AND ended_at + to_microseconds(CAST((28 + u_lead * 90) * 86400e6 AS BIGINT)) < {now_sql}""",
    ]
    union = " UNION ALL ".join(f"({p})" for p in parts)
    db.execute(
        f"""CREATE OR REPLACE TEMP TABLE sim_sorted AS
        SELECT ts, stage, channel, anon_id, order_id, model, trim, total_fen, city, province, city_tier,
          age_band, gender
        FROM ({union}) e WHERE ts >= TIMESTAMP '{launch.isoformat(sep=" ")}' - INTERVAL 3 DAY
        ORDER BY order_id NULLS FIRST, stage, ts"""
    )
    # Ids in (order id, stage) order: the main database's table and unique index are then appended to.
    # The table keeps the ORDER BY's order, so rowid numbers the rows without a window sort.
    db.execute(
        f"""CREATE OR REPLACE TABLE sim AS
        SELECT {int(first_id)} + rowid AS id, ts, stage, channel, anon_id, order_id, model, trim, total_fen,
          city, province, city_tier, age_band, gender, TRUE AS simulated
        FROM sim_sorted"""
    )
    db.execute("DROP TABLE sim_sorted")
    db.execute("DROP TABLE sim_orders")
    db.execute("DROP TABLE sim_paid")
    row = db.execute("SELECT count(*) FROM sim").fetchone()
    return int(row[0]) if row else 0


def build_into(warehouse: Warehouse, **kwargs: object) -> int:
    """Generate a launch straight into a warehouse (the benchmark's route); returns the event count."""
    with warehouse.lock:
        count = build(warehouse.db, **kwargs)  # type: ignore[arg-type]
        warehouse.db.execute("INSERT INTO funnel SELECT * FROM sim ORDER BY stage, ts")
        warehouse.roll_up("sim")
        warehouse.db.execute("DROP TABLE sim")
    warehouse.synced_id = warehouse._max_id()
    return count


def batches(db: duckdb.DuckDBPyConnection, size: int = 50_000) -> Iterator[pa.RecordBatch]:
    """The generated ``sim`` rows in id order, in Arrow batches."""
    reader = db.execute("SELECT * FROM sim ORDER BY id").to_arrow_reader(size)
    yield from reader


COPY_COLUMNS = ", ".join(OLTP_NAMES.get(name, name) for name in SCHEMA.names)


def copy_to_database(
    db: duckdb.DuckDBPyConnection,
    conn: Connection,
    *,
    batch: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Bulk-insert ``sim`` into the main database inside ``conn``'s transaction; returns how many rows.

    SQLite gets one prepared INSERT run over tuples straight from DuckDB (timestamps in SQLAlchemy's
    text format), with a large page cache for the load, while a second thread fetches the next
    batch; PostgreSQL gets ``COPY ... FROM STDIN`` fed row by row. The ids follow the unique
    (order id, stage) index, so both the table and the index are appended to, never split.
    """
    raw = conn.connection.driver_connection
    names = SCHEMA.names
    if conn.dialect.name == "postgresql":
        select_sql = ", ".join("strftime(ts, '%Y-%m-%d %H:%M:%S.%f+00')" if n == "ts" else n for n in names)
    else:
        select_sql = ", ".join("strftime(ts, '%Y-%m-%d %H:%M:%S.%f')" if n == "ts" else n for n in names)
    table = FunnelEvent.__tablename__
    written = 0
    cache = None
    if conn.dialect.name == "sqlite":
        cache = raw.execute("PRAGMA cache_size").fetchone()[0]  # type: ignore[union-attr]
        raw.execute(f"PRAGMA cache_size = {-LOAD_CACHE_KIB}")  # type: ignore[union-attr]
    try:
        for rows in _prefetched(db, f"SELECT {select_sql} FROM sim ORDER BY id", batch):
            if conn.dialect.name == "postgresql":
                with raw.cursor() as pg, pg.copy(f"COPY {table} ({COPY_COLUMNS}) FROM STDIN") as copy:  # type: ignore[union-attr]
                    for row in rows:
                        copy.write_row(row)
            elif conn.dialect.name == "sqlite":
                _sqlite_insert(raw, table, len(names), rows)
            else:
                keys = [OLTP_NAMES.get(n, n) for n in names]
                conn.execute(insert(FunnelEvent), [_row(keys, r) for r in rows])
            written += len(rows)
            if progress is not None:
                progress(len(rows))
    finally:
        if cache is not None:
            raw.execute(f"PRAGMA cache_size = {int(cache)}")  # type: ignore[union-attr]
    return written


def _sqlite_insert(raw: Any, table: str, width: int, rows: list[tuple[object, ...]]) -> None:
    """INSERT ``rows`` in statements of ``ROWS_PER_INSERT`` rows (a quarter cheaper than one by one)."""
    one = "(" + ", ".join("?" * width) + ")"
    full = len(rows) - len(rows) % ROWS_PER_INSERT
    many = f"INSERT INTO {table} ({COPY_COLUMNS}) VALUES " + ", ".join([one] * ROWS_PER_INSERT)
    chain = itertools.chain.from_iterable
    raw.executemany(
        many, (tuple(chain(rows[i : i + ROWS_PER_INSERT])) for i in range(0, full, ROWS_PER_INSERT))
    )
    raw.executemany(f"INSERT INTO {table} ({COPY_COLUMNS}) VALUES {one}", rows[full:])


ROWS_PER_INSERT = 20
LOAD_CACHE_KIB = 256 * 1024  # SQLite page cache during a bulk load (the default is 2 MiB)


def _prefetched(db: duckdb.DuckDBPyConnection, sql: str, size: int) -> Iterator[list[tuple[object, ...]]]:
    """The rows of ``sql`` in batches, fetched by a second thread one batch ahead of the consumer."""
    batches: queue.Queue[list[tuple[object, ...]] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        cursor = db.cursor()
        try:
            for chunk in cursor.execute(sql).to_arrow_reader(size):
                if stop.is_set():
                    break
                # Column by column through Arrow is about a third cheaper than DuckDB's row tuples.
                batches.put(list(zip(*(column.to_pylist() for column in chunk.columns), strict=True)))
            batches.put(None)
        except BaseException as err:  # handed to the consumer, which re-raises it
            batches.put(err)
        finally:
            cursor.close()

    worker = threading.Thread(target=fetch, name="simulate-fetch", daemon=True)
    worker.start()
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                batches.get_nowait()
            except queue.Empty:
                worker.join(0.05)


def _row(keys: list[str], values: tuple[object, ...]) -> dict[str, object]:
    row = dict(zip(keys, values, strict=True))
    row["at"] = datetime.fromisoformat(str(row["at"])).replace(tzinfo=UTC)
    return row


def launch(
    conn: Connection,
    *,
    orders: int,
    now: datetime,
    snapshot: Path | None = None,
    seed: int = 8,
    shape: LaunchShape | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, Warehouse]:
    """Generate a launch into ``conn``'s transaction and (optionally) refresh the Parquet snapshot."""
    launch_at, end = default_window(now)
    first_id = int(conn.execute(select(func.coalesce(func.max(FunnelEvent.id), 0))).scalar_one()) + 1
    warehouse = Warehouse()
    if snapshot is not None and snapshot.exists() and live.snapshot_matches(conn, snapshot):
        warehouse.load_parquet(snapshot)
    for batch in read_events(conn, after_id=warehouse.synced_id, until_id=first_id):
        warehouse.append(batch)
    with warehouse.lock:
        count = build(
            warehouse.db,
            orders=orders,
            launch_at=launch_at,
            now=end,
            seed=seed,
            first_id=first_id,
            shape=shape or DEMO_SHAPE,
        )
    copy_to_database(warehouse.db, conn, progress=progress)
    with warehouse.lock:
        warehouse.db.execute("INSERT INTO funnel SELECT * FROM sim ORDER BY stage, ts")
        warehouse.roll_up("sim")
        warehouse.db.execute("DROP TABLE sim")
    warehouse.synced_id = warehouse._max_id()
    if snapshot is not None:
        warehouse.export_parquet(snapshot)
    return count, warehouse


def default_window(now: datetime) -> tuple[datetime, datetime]:
    """A launch 120 days ago, seen today: the spike, the lock window and the first deliveries."""
    return now - timedelta(days=120), now


def seed_demo(
    *,
    session: Session,
    settings: Settings,
    orders: int = 200_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Demo data: the market sample and a simulated launch, in the caller's transaction; the events."""
    if not service.market_structure(session=session):
        rows = service.parse_market_csv(service.sample_market_csv())
        service.import_market_sales(session=session, rows=rows, source="illustrative sample (not real data)")
    session.flush()
    count, _ = launch(
        session.connection(),
        orders=orders,
        now=utcnow(),
        snapshot=live.snapshot_path(settings),
        progress=progress,
    )
    return count

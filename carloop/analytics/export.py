"""Exports of the tables behind the charts: CSV for spreadsheets, Parquet for DuckDB and pandas."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from carloop.analytics.rules import MarketMonth
from carloop.analytics.warehouse import Table

FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def market_table(months: list[MarketMonth]) -> Table:
    """Market structure by month as a table (shares as fractions)."""
    return Table(
        ["month", "total_units", "hhi", "cr4", "cr8", "brand_share", "brand_rank"],
        [
            [
                m.month,
                m.total_units,
                round(m.hhi, 1),
                round(m.cr4, 4),
                round(m.cr8, 4),
                m.brand_share,
                m.brand_rank,
            ]
            for m in months
        ],
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula


def safe_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: a string that would start a formula gets a leading ``'``.

    Numbers stay numbers (a negative number is data, not a formula); only text is escaped.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_csv(table: Table) -> bytes:
    """The table as UTF-8 CSV with a header row (a BOM so spreadsheet apps read Chinese right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(c) for c in table.columns])
    writer.writerows([safe_cell(_plain(v)) for v in row] for row in table.rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_parquet(table: Table) -> bytes:
    """The table as a Parquet file."""
    columns = list(zip(*table.rows, strict=True)) if table.rows else [() for _ in table.columns]
    arrow = pa.table(
        {name: pa.array(list(values)) for name, values in zip(table.columns, columns, strict=True)}
    )
    sink = pa.BufferOutputStream()
    pq.write_table(arrow, sink)
    return bytes(sink.getvalue().to_pybytes())


def encode(table: Table, fmt: str) -> bytes:
    """The table in ``fmt`` (csv or parquet)."""
    return to_parquet(table) if fmt == "parquet" else to_csv(table)

"""Allocating gap-free document numbers and issuing receipts in the transaction that moves the money.

``payments.ledger`` calls :func:`issue_for_entries` for every new journal entry it books, so every
captured payment and every refund gets its receipt exactly when (and only if) its money is booked:
the journal key is unique, so a replayed capture books nothing and issues nothing. The receipts of car
orders are announced (``receipts.issued``, one outbox row per booking batch), so the buyer is told of
the money after commit (``ordering.buyer_notices``) without slowing the booking transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, cast

from sqlalchemy import Executable, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carloop import batch_sql
from carloop.clock import utcnow
from carloop.outbox import service as outbox
from carloop.receipts import rules
from carloop.receipts.models import DocumentCounter, Receipt, ReceiptKind


def allocate(*, session: Session, series: str, year: int, count: int = 1) -> range:
    """The next ``count`` numbers of ``series`` in ``year``, held by the caller's transaction.

    One statement moves the counter (an upsert that creates its row if the year is new, else adds
    ``count``, and returns the new last number); the row stays locked until the transaction ends, so
    numbers are handed out in commit order, and a rollback returns them.
    """
    if count <= 0:
        return range(0)
    conn = session.connection()
    statement = _ADVANCE.get(conn.dialect.name)
    if statement is None:
        statement = _ADVANCE.setdefault(conn.dialect.name, _advance(conn.dialect.name))
    last = int(conn.execute(statement, {"series": series, "year": year, "count": count}).scalar_one())
    return range(last - count + 1, last + 1)


_ADVANCE: dict[str, Executable] = {}  # the counter's upsert, built once per dialect


def _advance(dialect: str) -> Executable:
    table = cast(Table, DocumentCounter.__table__)
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    values = insert.values(series=bindparam("series"), year=bindparam("year"), last=bindparam("count"))
    return values.on_conflict_do_update(
        index_elements=[table.c.series, table.c.year], set_={"last": table.c.last + values.excluded.last}
    ).returning(table.c.last)


@dataclass(frozen=True, slots=True)
class BookedEntry:
    """A journal entry just booked, as the ledger knows it."""

    entry_id: int
    key: str
    kind: str
    order_id: int | None
    amount_fen: int


@dataclass(frozen=True)
class ReceiptsIssued:
    """Receipts of car orders were issued (money captured or refunded) in one booking."""

    name: ClassVar[str] = "receipts.issued"
    numbers: list[str]


RECEIPTED_KINDS = {str(k): k for k in ReceiptKind}  # journal kinds that get a receipt

_COLUMNS = ("number", "year", "seq", "kind", "source_key", "entry_id", "order_id", "amount_fen", "issued_at")


def issue_for_entries(
    *, session: Session, entries: Sequence[BookedEntry], now: datetime | None = None
) -> list[str]:
    """Issue one numbered receipt per new payment or refund entry (others are skipped); their numbers."""
    due = [e for e in entries if e.kind in RECEIPTED_KINDS]
    if not due:
        return []
    now = now or utcnow()
    year = rules.year_of(now)
    numbers = allocate(session=session, series=rules.RECEIPT_SERIES, year=year, count=len(due))
    conn = session.connection()
    table = cast(Table, Receipt.__table__)
    at = batch_sql.db_time(conn, table.c.issued_at, now)
    rows, issued = [], []
    for seq, e in zip(numbers, due, strict=True):
        number = rules.document_number(rules.RECEIPT_SERIES, year, seq)
        issued.append(number)
        rows.append((number, year, seq, e.kind, e.key, e.entry_id, e.order_id, e.amount_fen, at))
    batch_sql.insert_many(conn, table, _COLUMNS, rows)
    of_orders = [number for number, e in zip(issued, due, strict=True) if e.order_id is not None]
    if of_orders:
        outbox.publish(session=session, event=ReceiptsIssued(numbers=of_orders))
    return issued


def receipts_for_order(*, session: Session, order_id: int) -> list[Receipt]:
    """Every receipt of a car order, in number order."""
    query = select(Receipt).where(Receipt.order_id == order_id).order_by(Receipt.year, Receipt.seq)
    return list(session.scalars(query))


def receipts_for_keys(*, session: Session, keys: Sequence[str]) -> list[Receipt]:
    """The receipts of the given journal keys (a shop order's payments and refunds), in number order."""
    if not keys:
        return []
    query = select(Receipt).where(Receipt.source_key.in_(keys)).order_by(Receipt.year, Receipt.seq)
    return list(session.scalars(query))


def get_receipt(*, session: Session, number: str) -> Receipt | None:
    """A receipt by its number (None when there is none)."""
    return session.scalar(select(Receipt).where(Receipt.number == number))

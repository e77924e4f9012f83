"""Deposits captured in bulk for the launch intake's group commit.

The intake stores hundreds of paid reservations per transaction. Each deposit goes through the same
steps as one captured through the notify endpoint: the simulator signs the provider's notification,
the notification is verified (signature, amount, status), the payment is recorded as succeeded, the
raw notification is logged, and the money is booked with ``payments.rules.payment_received`` as one
balanced journal entry keyed ``payment:<trade_no>``. Here the rows are written with one plain
``executemany`` per table (SQLAlchemy's per-row ORM work costs more than the database at this rate),
in the caller's transaction; nothing is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Table
from sqlalchemy.orm import Session

from carloop.errors import ErrorCode, PaymentFailed
from carloop.payments import rules
from carloop.payments.models import (
    JournalEntry,
    NotificationLog,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Posting,
)
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider

_FAILED = ErrorCode.PAYMENT_FAILED


@dataclass(frozen=True, slots=True)
class DepositCapture:
    """One deposit to capture: the order it pays for, our payment number and the amount."""

    order_id: int
    trade_no: str
    amount_fen: int


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def _bind_time(conn: Connection, value: datetime) -> Any:
    column = _table(Payment).c.created_at
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process else value


def _entry_ids(conn: Connection, count: int) -> list[int]:
    """``count`` fresh journal entry ids (SQLite: under the caller's write lock; PostgreSQL: the sequence)."""
    name = _table(JournalEntry).name
    if conn.dialect.name == "sqlite":
        top = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {name}").scalar_one()  # noqa: S608
        return list(range(int(top) + 1, int(top) + count + 1))
    rows = conn.exec_driver_sql(
        f"SELECT nextval(pg_get_serial_sequence('{name}', 'id')) FROM generate_series(1, %s)",  # noqa: S608
        (count,),
    )
    return sorted(int(r[0]) for r in rows)


def _insert(conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    if rows:
        mark = _mark(conn)
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})",  # noqa: S608
            rows,
        )


def capture_deposits(
    *, session: Session, provider: SimulatorProvider, captures: Sequence[DepositCapture], at: datetime
) -> list[str]:
    """Capture every deposit through a verified simulator notification and book it; provider ids, in order.

    Raises ``PaymentFailed`` (and writes nothing) if any notification fails verification or does not
    match its deposit, or if an entry would not balance.
    """
    if not captures:
        return []
    conn = session.connection()
    when = _bind_time(conn, at)
    payment_rows, notice_rows, entry_rows, posting_rows = [], [], [], []
    txn_ids: list[str] = []
    succeeded, deposit, name = str(PaymentStatus.SUCCEEDED), str(PaymentPurpose.DEPOSIT), provider.name
    memo = f"deposit via {name}"
    for c in captures:
        form = provider.signed_notification(
            trade_no=c.trade_no, amount_fen=c.amount_fen, status=NotificationStatus.SUCCEEDED
        )
        notice = provider.verify_notification(form)
        if (
            notice.trade_no != c.trade_no
            or notice.amount_fen != c.amount_fen
            or notice.status is not NotificationStatus.SUCCEEDED
        ):
            raise PaymentFailed(
                f"The notification for {c.trade_no} does not match its deposit.",
                code=ErrorCode.PAYMENT_FAILED,
            )
        lines = rules.payment_received(c.order_id, c.amount_fen)
        if not rules.is_balanced(lines):
            raise PaymentFailed(
                f"The entry for {c.trade_no} does not balance.", code=ErrorCode.PAYMENT_FAILED
            )
        txn_ids.append(notice.provider_txn_id)
        payment_rows.append((
            c.trade_no, c.order_id, deposit, name, c.amount_fen, succeeded, notice.provider_txn_id, "",
            when, when, None,
        ))  # fmt: skip
        notice_rows.append((name, c.trade_no, "captured", "", orjson.dumps(form).decode(), when))
        posting_rows.append([(str(ln.account), ln.order_id, ln.amount_fen) for ln in lines])
    entry_ids = _entry_ids(conn, len(captures))
    postings = []
    for eid, c, lines_of in zip(entry_ids, captures, posting_rows, strict=True):
        entry_rows.append((eid, f"payment:{c.trade_no}", "payment", c.order_id, memo, when))
        postings += [(eid, account, order_id, amount) for account, order_id, amount in lines_of]
    _insert(
        conn, _table(Payment),
        ("trade_no", "order_id", "purpose", "provider", "amount_fen", "status", "provider_txn_id", "pay_url",
         "created_at", "paid_at", "closed_at"),
        payment_rows,
    )  # fmt: skip
    _insert(
        conn,
        _table(NotificationLog),
        ("provider", "trade_no", "outcome", "detail", "raw", "received_at"),
        notice_rows,
    )
    _insert(
        conn,
        _table(JournalEntry),
        ("id", "idempotency_key", "kind", "order_id", "memo", "created_at"),
        entry_rows,
    )
    _insert(conn, _table(Posting), ("entry_id", "account", "order_id", "amount_fen"), postings)
    return txn_ids

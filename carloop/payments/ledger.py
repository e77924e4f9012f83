"""The double-entry journal: idempotent posting, balances, and the full books check (car and shop money).

Every new entry that moves a buyer's money (a payment or a refund) gets its numbered receipt
(``receipts.service``) in the same transaction: this is the one place both are booked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from carloop import batch_sql
from carloop.clock import utcnow
from carloop.payments import rules
from carloop.payments.models import (
    Account,
    Forfeiture,
    JournalEntry,
    Payment,
    PaymentStatus,
    Posting,
    Refund,
)
from carloop.receipts import service as receipts


def post(
    *,
    session: Session,
    key: str,
    kind: str,
    lines: Sequence[rules.Line],
    order_id: int | None = None,
    memo: str = "",
) -> JournalEntry:
    """Book one balanced entry once; posting the same key again returns the first entry unchanged."""
    existing = session.scalar(select(JournalEntry).where(JournalEntry.idempotency_key == key))
    if existing is not None:
        return existing
    if not rules.is_balanced(lines):
        raise ValueError(f"journal entry {key!r} does not balance")
    entry = JournalEntry(idempotency_key=key, kind=kind, order_id=order_id, memo=memo)
    entry.postings = [
        Posting(account=ln.account, order_id=ln.order_id, amount_fen=ln.amount_fen) for ln in lines
    ]
    session.add(entry)
    session.flush()
    receipts.issue_for_entries(
        session=session,
        entries=[receipts.BookedEntry(entry.id, key, kind, order_id, _moved(lines))],
    )
    return entry


def _moved(lines: Sequence[rules.Line]) -> int:
    return sum(ln.amount_fen for ln in lines if ln.amount_fen > 0)


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """One balanced entry to book in a batch (see ``post_many``)."""

    key: str
    kind: str
    lines: Sequence[rules.Line]
    order_id: int | None = None
    memo: str = ""


def post_many(*, session: Session, entries: Sequence[EntryDraft]) -> int:
    """Book many balanced entries, each once by key, with one statement per table; how many were new.

    The batched form of :func:`post` for group commits: the same idempotency keys and balance check,
    rows written as plain tuples (``batch_sql``) instead of one ORM object per posting.
    """
    if not entries:
        return 0
    for draft in entries:
        if not rules.is_balanced(draft.lines):
            raise ValueError(f"journal entry {draft.key!r} does not balance")
    keys = [d.key for d in entries]
    taken = set(
        session.scalars(select(JournalEntry.idempotency_key).where(JournalEntry.idempotency_key.in_(keys)))
    )
    fresh: list[EntryDraft] = []
    for draft in entries:
        if draft.key not in taken:
            taken.add(draft.key)
            fresh.append(draft)
    if not fresh:
        return 0
    conn = session.connection()
    table = cast(Table, JournalEntry.__table__)
    at = batch_sql.db_time(conn, table.c.created_at, utcnow())
    ids = batch_sql.allocate_ids(conn, table, len(fresh))
    batch_sql.insert_many(
        conn,
        table,
        ("id", "idempotency_key", "kind", "order_id", "memo", "created_at"),
        [(i, d.key, d.kind, d.order_id, d.memo[:300], at) for i, d in zip(ids, fresh, strict=True)],
    )
    batch_sql.insert_many(
        conn,
        cast(Table, Posting.__table__),
        ("entry_id", "account", "order_id", "amount_fen"),
        [
            (i, str(ln.account), ln.order_id, ln.amount_fen)
            for i, d in zip(ids, fresh, strict=True)
            for ln in d.lines
        ],
    )
    receipts.issue_for_entries(
        session=session,
        entries=[
            receipts.BookedEntry(i, d.key, d.kind, d.order_id, _moved(d.lines))
            for i, d in zip(ids, fresh, strict=True)
        ],
    )
    return len(fresh)


def held_for_order(*, session: Session, order_id: int) -> int:
    """What the ledger holds for the buyer of one order, in fen (credit balance of prepayments)."""
    total = session.scalar(
        select(func.coalesce(func.sum(Posting.amount_fen), 0)).where(
            Posting.account == Account.CUSTOMER_PREPAYMENTS, Posting.order_id == order_id
        )
    )
    return -int(total or 0)


def account_balances(*, session: Session) -> dict[str, int]:
    """The balance of every account (debit positive)."""
    rows = session.execute(select(Posting.account, func.sum(Posting.amount_fen)).group_by(Posting.account))
    return {str(account): int(total) for account, total in rows}


@dataclass
class LedgerReport:
    """The result of checking the books."""

    entries: int = 0
    unbalanced_entries: list[tuple[int, str, int]] = field(default_factory=list)  # (id, key, sum)
    mismatches: list[rules.Mismatch] = field(default_factory=list)
    account_mismatches: list[tuple[str, int, int]] = field(default_factory=list)  # (account, ledger, records)
    policy_breaches: list[rules.PolicyBreach] = field(default_factory=list)  # orders over their policy
    balances: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every entry balances, every order and account reconciles and keeps to its policy."""
        return (
            not self.unbalanced_entries
            and not self.mismatches
            and not self.account_mismatches
            and not self.policy_breaches
        )


def check(*, session: Session, terms: Mapping[int, rules.OrderTerms] | None = None) -> LedgerReport:
    """Verify every entry sums to zero, each order's ledger balance is paid - refunded - forfeited
    (refunded + forfeited + kept = paid), and, for the orders in ``terms``, forfeited <= policy and
    kept <= what the order's state allows (``ordering.service.check_ledger`` passes every order's)."""
    report = LedgerReport(entries=session.scalar(select(func.count(JournalEntry.id))) or 0)
    sums = session.execute(
        select(JournalEntry.id, JournalEntry.idempotency_key, func.coalesce(func.sum(Posting.amount_fen), 0))
        .outerjoin(Posting, Posting.entry_id == JournalEntry.id)
        .group_by(JournalEntry.id, JournalEntry.idempotency_key)
        .having(func.coalesce(func.sum(Posting.amount_fen), 0) != 0)
    )
    report.unbalanced_entries = [(int(i), str(k), int(s)) for i, k, s in sums]

    records: dict[int, rules.OrderMoney] = {}

    def bump(order_id: int, paid: int = 0, refunded: int = 0, forfeited: int = 0) -> None:
        m = records.get(order_id, rules.OrderMoney())
        records[order_id] = rules.OrderMoney(
            m.paid_fen + paid, m.refunded_fen + refunded, m.forfeited_fen + forfeited
        )

    paid_q = (
        select(Payment.order_id, func.sum(Payment.amount_fen))
        .where(Payment.status == PaymentStatus.SUCCEEDED, Payment.order_id.is_not(None))
        .group_by(Payment.order_id)
    )
    for order_id, total in session.execute(paid_q):
        bump(int(order_id or 0), paid=int(total))
    for order_id, total in session.execute(
        select(Refund.order_id, func.sum(Refund.amount_fen))
        .where(Refund.order_id.is_not(None))
        .group_by(Refund.order_id)
    ):
        bump(int(order_id or 0), refunded=int(total))
    for order_id, total in session.execute(select(Forfeiture.order_id, Forfeiture.amount_fen)):
        bump(int(order_id), forfeited=int(total))

    held_q = (
        select(Posting.order_id, func.sum(Posting.amount_fen))
        .where(Posting.account == Account.CUSTOMER_PREPAYMENTS, Posting.order_id.is_not(None))
        .group_by(Posting.order_id)
    )
    held = {int(order_id or 0): -int(total or 0) for order_id, total in session.execute(held_q)}
    report.mismatches = rules.reconcile(records, held)
    report.policy_breaches = rules.breaches(records, held, terms or {})
    report.balances = account_balances(session=session)
    shop = shop_money(session=session)
    expected = {
        Account.PROVIDER_CASH: sum(m.paid_fen - m.refunded_fen for m in records.values()) + shop.kept_fen,
        Account.FORFEITED_DEPOSITS: -sum(m.forfeited_fen for m in records.values()),
        Account.SHOP_SALES: -shop.kept_fen,
    }
    for account, want in expected.items():
        have = report.balances.get(str(account), 0)
        if have != want:
            report.account_mismatches.append((str(account), have, want))
    if shop.unassigned_held_fen:  # shop cash is sold or refunded in the transaction that captured it
        report.account_mismatches.append((SHOP_PREPAYMENTS, shop.unassigned_held_fen, 0))
    return report


SHOP_PREPAYMENTS = f"{Account.CUSTOMER_PREPAYMENTS}:shop"  # prepayment lines of no car order


@dataclass(frozen=True, slots=True)
class ShopMoney:
    """What shop payments say about the books, and what the ledger holds outside any car order."""

    paid_fen: int  # succeeded shop payments
    refunded_fen: int  # refunds of shop payments
    unassigned_held_fen: int  # prepayment lines with no car order (credit balance)

    @property
    def kept_fen(self) -> int:
        """Shop cash the maker keeps: paid - refunded (booked as shop sales)."""
        return self.paid_fen - self.refunded_fen


def shop_money(*, session: Session) -> ShopMoney:
    """Shop payments and refunds (records) and prepayments held outside any car order (ledger)."""
    paid = session.scalar(
        select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
            Payment.status == PaymentStatus.SUCCEEDED, Payment.shop_order_id.is_not(None)
        )
    )
    refunded = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_fen), 0))
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Payment.shop_order_id.is_not(None))
    )
    unassigned = session.scalar(
        select(func.coalesce(func.sum(Posting.amount_fen), 0)).where(
            Posting.account == Account.CUSTOMER_PREPAYMENTS, Posting.order_id.is_(None)
        )
    )
    return ShopMoney(int(paid or 0), int(refunded or 0), -int(unassigned or 0))

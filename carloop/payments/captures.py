"""Payments started and captured in batches, and the capture handlers other domains register.

Every provider notification, whichever way it arrives (the notify route, the notification lane's
group commit, a test), goes through :func:`capture_many`: the provider verifies its signature with
its own algorithm (the simulator's HMAC, Alipay's RSA2), the payment is locked and moved once
(a replay or a stale notification changes nothing), captured money is booked as one balanced
journal entry per payment (``ledger.post_many``), the raw notification is logged, and, in the same
transaction, the handler registered for the payment's purpose settles what was paid for (deposits
→ ordering, shop orders → loyalty). The registry is wired at the edge (``web``), so payments never
imports the domains it pays for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, cast
from urllib.parse import quote

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from carloop import batch_sql
from carloop.clock import utcnow
from carloop.errors import DomainError, ErrorCode, NotFound, PaymentFailed
from carloop.payments import ledger, rules
from carloop.payments.models import NotificationLog, Payment, PaymentPurpose, PaymentStatus
from carloop.payments.providers.base import Notification, PaymentProvider
from carloop.payments.service import (
    NotificationOutcome,
    NotificationResult,
    PaymentFacts,
    decide,
    time_ordered_trade_no,
)

PAY_PATH = "/pay/"  # our own pay link; it asks the provider for its cashier URL when the buyer opens it


class CaptureHandler(Protocol):
    """What a domain does, in the capturing transaction, with the outcomes of its payments."""

    def __call__(
        self, *, session: Session, provider: PaymentProvider, results: Sequence[NotificationResult]
    ) -> None:
        """Settle what the payments in ``results`` paid for (captured or closed)."""


Handlers = Mapping[PaymentPurpose, CaptureHandler]
LockFirst = Callable[[Session, list[int]], object]  # locks the car orders paid for, before their payments


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """One payment to start: what it pays for, who pays, how much, and where the buyer returns."""

    order_id: int | None
    customer_id: int | None
    purpose: PaymentPurpose
    amount_fen: int
    return_url: str


@dataclass(frozen=True, slots=True)
class StartedPayment:
    """A pending payment: our number and the link where the buyer pays it."""

    trade_no: str
    pay_url: str


def pay_link(trade_no: str) -> str:
    """Our link for paying ``trade_no``; the provider's cashier URL is made only when it is opened."""
    return PAY_PATH + quote(trade_no, safe="")


_PAYMENT_COLUMNS = (
    "trade_no", "order_id", "shop_order_id", "purpose", "provider", "amount_fen", "status",
    "pay_url", "created_at", "customer_id", "return_url",
)  # fmt: skip


def start_many(
    *, session: Session, provider: PaymentProvider, requests: Sequence[PaymentRequest], now: datetime
) -> list[StartedPayment]:
    """Create pending payments in one statement; the buyer pays each through :func:`pay_link`.

    No provider is called here: signing a cashier URL costs an RSA signature (~0.7 ms) that only the
    buyers who actually go to pay should spend.
    """
    if not requests:
        return []
    conn = session.connection()
    table = cast(Table, Payment.__table__)
    at = batch_sql.db_time(conn, table.c.created_at, now)
    pending, started, rows = str(PaymentStatus.PENDING), [], []
    for r in requests:
        trade_no = time_ordered_trade_no()
        link = pay_link(trade_no)
        started.append(StartedPayment(trade_no, link))
        rows.append((
            trade_no, r.order_id, None, str(r.purpose), provider.name, r.amount_fen, pending, link, at,
            r.customer_id, r.return_url[:500],
        ))  # fmt: skip
    batch_sql.insert_many(conn, table, _PAYMENT_COLUMNS, rows)
    return started


def cashier_url(*, payment: Payment, provider: PaymentProvider, base_url: str, subject: str) -> str:
    """Where the buyer pays ``payment`` at the provider (the provider signs it now, if it signs)."""
    base = base_url.rstrip("/")
    back = payment.return_url or "/"
    start = provider.start_payment(
        trade_no=payment.trade_no,
        amount_fen=payment.amount_fen,
        subject=subject[:120],
        return_url=back if back.startswith("http") else base + back,
        notify_url=f"{base}/api/v1/payments/notify/{provider.name}",
    )
    return start.pay_url


def handle_notification(
    *,
    session: Session,
    provider: PaymentProvider,
    form: Mapping[str, str],
    handlers: Handlers,
    lock_first: LockFirst | None = None,
) -> NotificationResult:
    """Verify and apply one notification (``capture_many`` of one); its error is raised."""
    result = capture_many(
        session=session, provider=provider, forms=[form], handlers=handlers, lock_first=lock_first
    )[0]
    if isinstance(result, DomainError):
        raise result
    return result


def capture_many(
    *,
    session: Session,
    provider: PaymentProvider,
    forms: Sequence[Mapping[str, str]],
    handlers: Handlers,
    now: datetime | None = None,
    lock_first: LockFirst | None = None,
) -> list[NotificationResult | DomainError]:
    """Verify, apply and settle a batch of notifications in the caller's transaction, one result each.

    A forged or malformed notification gets its ``PaymentFailed`` (and is logged as rejected); a
    genuine one whose status is not final gets ``PaymentFailed`` with ``final=False``; the others
    are applied in order, so a replay inside the batch is a duplicate like any other.
    """
    now = now or utcnow()
    verified: list[Notification | DomainError] = []
    rejected: list[tuple[Any, ...]] = []
    for form in forms:
        try:
            verified.append(provider.verify_notification(form))
        except PaymentFailed as err:
            verified.append(err)
            if err.data.get("final") is not False:
                rejected.append(
                    (
                        provider.name,
                        str(form.get("out_trade_no", ""))[:40],
                        "rejected",
                        err.message[:300],
                        dict(form),
                    )
                )
    settled = iter(
        settle_many(
            session=session,
            provider=provider,
            notifications=[n for n in verified if isinstance(n, Notification)],
            handlers=handlers,
            now=now,
            lock_first=lock_first,
            rejected=rejected,
        )
    )
    return [item if isinstance(item, DomainError) else next(settled) for item in verified]


def settle_many(
    *,
    session: Session,
    provider: PaymentProvider,
    notifications: Sequence[Notification],
    handlers: Handlers,
    now: datetime,
    lock_first: LockFirst | None = None,
    rejected: list[tuple[Any, ...]] | None = None,
) -> list[NotificationResult | DomainError]:
    """Apply and settle notifications already verified (by signature, or a provider's signed answer to
    a query, as reconciliation gets them): payments moved once, money booked, handlers run."""
    if lock_first is not None and notifications:
        # The paid-for rows before the payments' (the lock order of the domains that own them).
        order_ids = session.scalars(
            select(Payment.order_id).where(
                Payment.trade_no.in_({n.trade_no for n in notifications}), Payment.order_id.is_not(None)
            )
        )
        lock_first(session, [int(i) for i in order_ids if i is not None])
    results = apply_many(session=session, notifications=notifications, now=now, rejected=rejected)
    by_purpose: dict[PaymentPurpose, list[NotificationResult]] = {}
    for result in results:
        if isinstance(result, NotificationResult) and result.outcome in (
            NotificationOutcome.CAPTURED,
            NotificationOutcome.CLOSED,
        ):
            by_purpose.setdefault(result.payment.purpose, []).append(result)
    for purpose in sorted(by_purpose):
        handler = handlers.get(purpose)
        if handler is not None:
            handler(session=session, provider=provider, results=by_purpose[purpose])
    session.flush()
    return results


_FACTS = (
    "id", "trade_no", "order_id", "shop_order_id", "purpose", "provider", "amount_fen", "status", "paid_at",
)  # fmt: skip


def apply_many(
    *,
    session: Session,
    notifications: Sequence[Notification],
    now: datetime,
    rejected: list[tuple[Any, ...]] | None = None,
) -> list[NotificationResult | DomainError]:
    """Apply verified notifications once each, in order; book captured money in one batch of entries.

    The payments are read as rows (locked, in id order) and moved with one UPDATE per kind of move;
    ORM changes the caller made are flushed first, and its loaded payments are expired afterwards so
    they read the new rows.
    """
    log_rows = list(rejected or [])
    trade_nos = sorted({n.trade_no for n in notifications})
    table = cast(Table, Payment.__table__)
    found: dict[str, PaymentFacts] = {}
    if trade_nos:
        session.flush()
        query = (
            select(*(table.c[name] for name in _FACTS))
            .where(table.c.trade_no.in_(trade_nos))
            .order_by(table.c.id)
            .with_for_update()
        )
        found = {row.trade_no: PaymentFacts(*row) for row in session.execute(query)}
    entries: list[ledger.EntryDraft] = []
    results: list[NotificationResult | DomainError] = []
    captured: list[tuple[Any, ...]] = []  # (provider, provider_txn_id, id): one UPDATE below
    closed: list[int] = []
    for n in notifications:
        payment = found.get(n.trade_no)
        if payment is None:
            log_rows.append((n.provider, n.trade_no, "rejected", "no such payment", dict(n.raw)))
            results.append(NotFound(f"No payment {n.trade_no}."))
            continue
        if n.amount_fen != payment.amount_fen:
            detail = f"amount {n.amount_fen} != {payment.amount_fen}"
            log_rows.append((n.provider, n.trade_no, "rejected", detail, dict(n.raw)))
            results.append(
                PaymentFailed(
                    f"Notification amount {n.amount_fen} fen does not match payment {payment.trade_no}.",
                    code=ErrorCode.PAYMENT_FAILED,
                )
            )
            continue
        outcome = decide(payment.status, n.status)
        if outcome is NotificationOutcome.CAPTURED:
            # the money is where it was taken (the buyer may have switched provider)
            payment = replace(payment, status=PaymentStatus.SUCCEEDED, provider=n.provider, paid_at=now)
            captured.append((n.provider, n.provider_txn_id, payment.id))
            entries.append(
                ledger.EntryDraft(
                    key=f"payment:{payment.trade_no}",
                    kind="payment",
                    order_id=payment.order_id,
                    lines=rules.payment_received(payment.order_id, payment.amount_fen),
                    memo=f"{payment.purpose} via {payment.provider} {n.provider_txn_id}"[:300],
                )
            )
        elif outcome is NotificationOutcome.CLOSED:
            payment = replace(payment, status=PaymentStatus.CLOSED)
            closed.append(payment.id)
        found[n.trade_no] = payment  # a replay later in the batch sees the move
        log_rows.append((n.provider, n.trade_no, str(outcome), "", dict(n.raw)))
        results.append(NotificationResult(payment, outcome))
    if captured or closed:
        _write_moves(session, captured, closed, now)
    ledger.post_many(session=session, entries=entries)
    _log(session, log_rows, now)
    return results


def _write_moves(session: Session, captured: list[tuple[Any, ...]], closed: list[int], now: datetime) -> None:
    """The batch's moves in one UPDATE each (closes first: a success after a close is the last word)."""
    conn = session.connection()
    mark = batch_sql.placeholder(conn)
    at = batch_sql.db_time(conn, cast(Table, Payment.__table__).c.paid_at, now)
    if closed:
        conn.exec_driver_sql(
            f"UPDATE payments SET status = {mark}, closed_at = {mark} WHERE id = {mark}",  # noqa: S608
            [(str(PaymentStatus.CLOSED), at, pid) for pid in closed],
        )
    if captured:
        succeeded = str(PaymentStatus.SUCCEEDED)
        conn.exec_driver_sql(
            f"UPDATE payments SET status = {mark}, provider = {mark}, provider_txn_id = {mark}, "  # noqa: S608
            f"paid_at = {mark} WHERE id = {mark}",
            [(succeeded, provider, txn, at, pid) for provider, txn, pid in captured],
        )
    moved = {*closed, *(pid for _, _, pid in captured)}
    for obj in list(session.identity_map.values()):  # a payment loaded earlier reads the new row
        if isinstance(obj, Payment) and obj.id in moved:
            session.expire(obj)


def _log(session: Session, rows: list[tuple[Any, ...]], now: datetime) -> None:
    if not rows:
        return
    conn = session.connection()
    table = cast(Table, NotificationLog.__table__)
    at = batch_sql.db_time(conn, table.c.received_at, now)
    batch_sql.insert_many(
        conn,
        table,
        ("provider", "trade_no", "outcome", "detail", "raw", "received_at"),
        [(p, t[:40], o, d[:300], batch_sql.dumps(raw), at) for p, t, o, d, raw in rows],
    )

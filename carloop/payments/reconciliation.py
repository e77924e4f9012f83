"""Daily reconciliation: a provider's statement for a day against carloop's payments and journal.

The statement (WeChat Pay's trade bill, Alipay's bill) is compared line by line with what carloop
booked (``reconcile_rules.compare``). A payment the provider took but carloop never heard of (a lost
callback) is asked of the provider (its signed order query) and captured now through the normal
capture path (``captures.settle_many``: once, booked, settled by the purpose's handler), so running
the same day twice changes nothing more. Every difference is stored once per day and kind; staff in
HQ finance resolve the rest with an audited action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal
from carloop.audit import service as audit
from carloop.clock import as_utc, utcnow
from carloop.errors import NotFound, PolicyViolation
from carloop.payments import captures
from carloop.payments.models import Payment, PaymentStatus, ReconciliationDifference, Refund
from carloop.payments.providers.base import NotificationStatus, Reconcilable, StatementLine
from carloop.payments.reconcile_rules import (
    PAYMENT,
    REFUND,
    Booked,
    Difference,
    DifferenceKind,
    Key,
    compare,
    day_window,
)
from carloop.payments.service import NotificationOutcome, NotificationResult

OPEN, FIXED, RESOLVED = "open", "fixed", "resolved"


@dataclass
class Report:
    """What one run found and fixed."""

    provider: str
    day: date
    lines: int = 0
    differences: list[Difference] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)  # trade numbers captured from the provider's answer

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (``--json``)."""
        return {
            "provider": self.provider,
            "day": self.day.isoformat(),
            "statement_lines": self.lines,
            "differences": [
                {
                    "kind": str(d.kind),
                    "trade_no": d.trade_no,
                    "refund_no": d.refund_no,
                    "carloop_fen": d.carloop_fen,
                    "provider_fen": d.provider_fen,
                    "fixed": d.trade_no in self.fixed and d.lost_callback,
                }
                for d in self.differences
            ],
            "fixed": self.fixed,
        }


def _booked(
    session: Session, provider: str, day: date, lines: list[StatementLine]
) -> tuple[dict[Key, Booked], list[Key]]:
    start, end = day_window(day)
    trade_nos = {ln.trade_no for ln in lines if ln.kind == PAYMENT}
    refund_nos = {ln.refund_no for ln in lines if ln.kind == REFUND}
    booked: dict[Key, Booked] = {}
    that_day: list[Key] = []
    payments = select(Payment).where(
        Payment.trade_no.in_(trade_nos)
        | (
            (Payment.provider == provider)
            & (Payment.status == PaymentStatus.SUCCEEDED)
            & (Payment.paid_at >= start)
            & (Payment.paid_at < end)
        )
    )
    for p in session.scalars(payments.order_by(Payment.id)):
        b = Booked(PAYMENT, p.trade_no, "", p.amount_fen, p.status is PaymentStatus.SUCCEEDED)
        booked[b.key] = b
        if (
            p.provider == provider
            and b.captured
            and p.paid_at is not None
            and start <= as_utc(p.paid_at) < end
        ):
            that_day.append(b.key)
    refunds = (
        select(Refund, Payment.trade_no, Payment.provider)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(
            Refund.refund_no.in_(refund_nos)
            | ((Payment.provider == provider) & (Refund.created_at >= start) & (Refund.created_at < end))
        )
    )
    for r, trade_no, paid_with in session.execute(refunds.order_by(Refund.id)):
        b = Booked(REFUND, trade_no, r.refund_no, r.amount_fen, True)
        booked[b.key] = b
        if paid_with == provider and start <= as_utc(r.created_at) < end:
            that_day.append(b.key)
    return booked, that_day


def reconcile(
    *,
    session: Session,
    provider: Reconcilable,
    day: date,
    handlers: captures.Handlers,
    lock_first: captures.LockFirst | None = None,
) -> Report:
    """Compare the day's statement with the books, capture lost callbacks, store the differences."""
    lines = provider.statement(day)
    report = Report(provider.name, day, len(lines))
    booked, that_day = _booked(session, provider.name, day, lines)
    for diff in compare(lines, booked, that_day):
        status = OPEN
        if diff.kind is DifferenceKind.MISSING_AT_PROVIDER and not diff.refund_no:
            answer = provider.query(diff.trade_no)  # paid on another day of the provider's clock?
            if (
                answer is not None
                and answer.status is NotificationStatus.SUCCEEDED
                and answer.amount_fen == diff.carloop_fen
            ):
                continue
        if diff.lost_callback:
            status = _capture(session, provider, diff, handlers, lock_first, report)
        report.differences.append(diff)
        _store(session, provider.name, day, diff, status)
    session.flush()
    return report


def _capture(
    session: Session,
    provider: Reconcilable,
    diff: Difference,
    handlers: captures.Handlers,
    lock_first: captures.LockFirst | None,
    report: Report,
) -> str:
    """Ask the provider about a payment its statement lists as paid; capture it if it says so."""
    answer = provider.query(diff.trade_no)
    if answer is None or answer.status is not NotificationStatus.SUCCEEDED:
        return OPEN
    (result,) = captures.settle_many(
        session=session,
        provider=cast(Any, provider),
        notifications=[answer],
        handlers=handlers,
        now=utcnow(),
        lock_first=lock_first,
    )
    if isinstance(result, NotificationResult) and result.outcome in (
        NotificationOutcome.CAPTURED,
        NotificationOutcome.DUPLICATE,
    ):
        report.fixed.append(diff.trade_no)
        return FIXED
    return OPEN


def _store(session: Session, provider: str, day: date, diff: Difference, status: str) -> None:
    """Record a difference once per (provider, day, kind, trade, refund); a fix updates it."""
    row = session.scalar(
        select(ReconciliationDifference).where(
            ReconciliationDifference.provider == provider,
            ReconciliationDifference.day == day,
            ReconciliationDifference.kind == str(diff.kind),
            ReconciliationDifference.trade_no == diff.trade_no[:40],
            ReconciliationDifference.refund_no == diff.refund_no[:60],
        )
    )
    if row is None:
        session.add(
            ReconciliationDifference(
                provider=provider,
                day=day,
                kind=str(diff.kind),
                trade_no=diff.trade_no[:40],
                refund_no=diff.refund_no[:60],
                provider_txn_id=diff.provider_txn_id[:80],
                carloop_fen=diff.carloop_fen,
                provider_fen=diff.provider_fen,
                status=status,
                resolution="captured from the provider's order query" if status == FIXED else "",
                resolved_by="reconciliation" if status == FIXED else "",
                resolved_at=utcnow() if status == FIXED else None,
            )
        )
    elif status == FIXED and row.status == OPEN:
        row.status, row.resolved_by, row.resolved_at = FIXED, "reconciliation", utcnow()
        row.resolution = "captured from the provider's order query"


def differences(
    *, session: Session, status: str | None = None, limit: int = 200
) -> list[ReconciliationDifference]:
    """Stored differences, newest day first (only those in ``status`` if given)."""
    query = select(ReconciliationDifference)
    if status:
        query = query.where(ReconciliationDifference.status == status)
    order = (ReconciliationDifference.day.desc(), ReconciliationDifference.id)
    return list(session.scalars(query.order_by(*order).limit(limit)))


def resolve(
    *, session: Session, principal: Principal, difference_id: int, note: str, ip: str | None = None
) -> ReconciliationDifference:
    """Close an open difference with the staff member's note (audited); resolving again changes nothing."""
    note = note.strip()[:300]
    if not note:
        raise PolicyViolation("Say how the difference was resolved.")
    row = session.get(ReconciliationDifference, difference_id, with_for_update=True)
    if row is None:
        raise NotFound(f"No reconciliation difference {difference_id}.")
    if row.status != OPEN:
        return row
    row.status, row.resolution, row.resolved_by, row.resolved_at = RESOLVED, note, principal.actor, utcnow()
    audit.record(
        session=session,
        principal=principal,
        action="payment.reconciliation_resolve",
        target_type="reconciliation_difference",
        target_id=row.id,
        detail={
            "provider": row.provider,
            "day": row.day.isoformat(),
            "kind": row.kind,
            "trade_no": row.trade_no,
            "refund_no": row.refund_no,
            "note": note,
        },
        ip=ip,
    )
    session.flush()
    return row

"""Provider callbacks about refunds: recorded against our refund, never moving money by themselves.

A refund is booked when the provider accepts it (``service.refund_payment``); its callback says
whether the money reached the buyer. Success confirms the refund; an abnormal or closed refund, or
one whose amount differs, is logged as such and waits for HQ finance on the reconciliation page.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.clock import SHANGHAI, utcnow
from carloop.errors import NotFound
from carloop.payments.models import NotificationLog, ReconciliationDifference, Refund
from carloop.payments.providers.base import RefundNotice
from carloop.payments.reconcile_rules import DifferenceKind


def record(*, session: Session, notice: RefundNotice, form: Mapping[str, str]) -> str:
    """Log a verified refund callback against its refund; the outcome (replays log again, harmlessly)."""
    del form  # the verified, decrypted notice is what is kept (the raw body is ciphertext)
    refund = session.scalar(select(Refund).where(Refund.refund_no == notice.refund_no))
    if refund is None:
        raise NotFound(f"No refund {notice.refund_no}.")
    if refund.amount_fen != notice.amount_fen:
        outcome, detail = "refund_mismatch", f"amount {notice.amount_fen} != {refund.amount_fen}"
    elif notice.succeeded:
        outcome, detail = "refund_succeeded", notice.status
    else:
        outcome, detail = "refund_failed", notice.status
    if outcome != "refund_succeeded":
        _for_finance(session, notice, refund.amount_fen)
    session.add(
        NotificationLog(
            provider=notice.provider,
            trade_no=notice.trade_no[:40],
            outcome=outcome,
            detail=f"{notice.refund_no} {detail}"[:300],
            raw=dict(notice.raw),
        )
    )
    session.flush()
    return outcome


def _for_finance(session: Session, notice: RefundNotice, booked_fen: int) -> None:
    """A refund the provider did not make as booked waits on the reconciliation page (once)."""
    day = utcnow().astimezone(SHANGHAI).date()
    kind = str(DifferenceKind.REFUND_FAILED)
    seen = session.scalar(
        select(ReconciliationDifference.id).where(
            ReconciliationDifference.provider == notice.provider,
            ReconciliationDifference.kind == kind,
            ReconciliationDifference.refund_no == notice.refund_no[:60],
        )
    )
    if seen is None:
        session.add(
            ReconciliationDifference(
                provider=notice.provider,
                day=day,
                kind=kind,
                trade_no=notice.trade_no[:40],
                refund_no=notice.refund_no[:60],
                provider_txn_id=notice.status[:80],
                carloop_fen=booked_fen,
                provider_fen=notice.amount_fen,
            )
        )

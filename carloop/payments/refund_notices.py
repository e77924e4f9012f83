"""Provider callbacks about refunds: recorded against our refund, never moving money by themselves.

A refund is booked when the provider accepts it (``service.refund_payment``); its callback says
whether the money reached the buyer. Success confirms the refund; an abnormal or closed refund, or
one whose amount differs, is logged as such and left for reconciliation to show staff.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.errors import NotFound
from carloop.payments.models import NotificationLog, Refund
from carloop.payments.providers.base import RefundNotice


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

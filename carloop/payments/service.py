"""Payment use cases: start a payment, apply a verified notification, refund, forfeit."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal
from carloop.audit import service as audit
from carloop.clock import utcnow
from carloop.errors import NotFound, PaymentFailed, PolicyViolation
from carloop.payments import ledger, rules
from carloop.payments.models import (
    Forfeiture,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Refund,
)
from carloop.payments.providers import provider_for
from carloop.payments.providers.base import NotificationStatus, PaymentProvider


class NotificationOutcome(StrEnum):
    """What a notification did."""

    CAPTURED = "captured"  # a pending (or closed) payment is now succeeded; money booked
    CLOSED = "closed"  # a pending payment was closed; nothing booked
    DUPLICATE = "duplicate"  # already applied; nothing changed
    IGNORED = "ignored"  # stale or out of order (a close after success); nothing changed


@dataclass(frozen=True, slots=True)
class PaymentFacts:
    """A payment as a notification left it: what the capture handlers read (a row, not an ORM object;
    ``get_payment`` loads the object for the rare handler that refunds or books it one by one)."""

    id: int
    trade_no: str
    order_id: int | None
    shop_order_id: int | None
    purpose: PaymentPurpose
    provider: str
    amount_fen: int
    status: PaymentStatus
    paid_at: datetime | None


@dataclass(frozen=True, slots=True)
class NotificationResult:
    """The payment a notification was about and what it did."""

    payment: PaymentFacts
    outcome: NotificationOutcome


def new_trade_no() -> str:
    """A fresh, unguessable payment number."""
    return "P" + secrets.token_hex(10).upper()


def time_ordered_trade_no() -> str:
    """A payment number that sorts by time (13 hex digits of microseconds) then 8 random hex digits.

    Random numbers scatter every insert over the whole unique index (and the notification and journal
    indexes keyed by it); time-ordered ones append, which keeps each group commit's pages few.
    """
    return f"P{time.time_ns() // 1000:013X}{secrets.token_hex(4).upper()}"


def start_payment(
    *,
    session: Session,
    provider: PaymentProvider,
    order_id: int | None,
    purpose: PaymentPurpose,
    amount_fen: int,
    subject: str,
    return_url: str,
    notify_url: str,
    shop_order_id: int | None = None,
    customer_id: int | None = None,
) -> Payment:
    """Create a pending payment (of a car order, or of a shop order) and ask the provider where the
    buyer pays it."""
    payment = Payment(
        trade_no=new_trade_no(),
        order_id=order_id,
        shop_order_id=shop_order_id,
        purpose=purpose,
        provider=provider.name,
        amount_fen=amount_fen,
        status=PaymentStatus.PENDING,
        customer_id=customer_id,
        return_url=return_url[:500],
    )
    start = provider.start_payment(
        trade_no=payment.trade_no,
        amount_fen=amount_fen,
        subject=subject,
        return_url=return_url,
        notify_url=notify_url,
    )
    payment.pay_url = start.pay_url
    session.add(payment)
    session.flush()
    return payment


def get_payment(*, session: Session, trade_no: str, for_update: bool = False) -> Payment:
    """A payment by its number."""
    query = select(Payment).where(Payment.trade_no == trade_no)
    if for_update:
        query = query.with_for_update()
    payment = session.scalar(query)
    if payment is None:
        raise NotFound(f"No payment {trade_no}.")
    return payment


def order_of_payment(*, session: Session, trade_no: str) -> int | None:
    """The car order a payment number pays for (None: a shop payment or no such payment); no lock."""
    return session.scalar(select(Payment.order_id).where(Payment.trade_no == trade_no))


def payments_for_order(*, session: Session, order_id: int) -> list[Payment]:
    """Every payment of an order, oldest first."""
    return list(session.scalars(select(Payment).where(Payment.order_id == order_id).order_by(Payment.id)))


def decide(current: PaymentStatus, reported: NotificationStatus) -> NotificationOutcome:
    """What a notification reporting ``reported`` does to a payment that is ``current``."""
    if reported is NotificationStatus.SUCCEEDED:
        # Money taken is money taken: a success after a close (out of order) is still booked.
        return (
            NotificationOutcome.DUPLICATE
            if current is PaymentStatus.SUCCEEDED
            else NotificationOutcome.CAPTURED
        )
    if current is PaymentStatus.PENDING:
        return NotificationOutcome.CLOSED
    return NotificationOutcome.DUPLICATE if current is PaymentStatus.CLOSED else NotificationOutcome.IGNORED


def close_payment(*, session: Session, payment: Payment) -> None:
    """Stop waiting for a pending payment (the order was cancelled before it was paid)."""
    if payment.status is PaymentStatus.PENDING:
        payment.status = PaymentStatus.CLOSED
        payment.closed_at = utcnow()


def refunded_fen(payment: Payment) -> int:
    """How much of a payment has already been refunded."""
    return sum(r.amount_fen for r in payment.refunds)


def refund_payment(
    *,
    session: Session,
    provider: PaymentProvider,
    payment: Payment,
    reason: str,
    refund_no: str | None = None,
    amount_fen: int | None = None,
) -> Refund | None:
    """Return what is left of a succeeded payment (at most ``amount_fen`` of it), once; the same
    refund number never refunds twice."""
    refund_no = refund_no or f"RF-{payment.trade_no}"
    existing = session.scalar(select(Refund).where(Refund.refund_no == refund_no))
    if existing is not None:
        return existing
    if payment.status is not PaymentStatus.SUCCEEDED:
        return None
    amount = payment.amount_fen - refunded_fen(payment)
    if amount_fen is not None:
        amount = min(amount, amount_fen)
    if amount <= 0:
        return None
    result = provider_for(provider, payment.provider).refund(
        trade_no=payment.trade_no, refund_no=refund_no, amount_fen=amount, reason=reason
    )
    if not result.accepted:
        raise PaymentFailed(f"The provider refused refund {refund_no}; nothing was refunded.")
    refund = Refund(
        refund_no=refund_no,
        payment_id=payment.id,
        order_id=payment.order_id,
        amount_fen=amount,
        reason=reason[:200],
        provider_ref=result.provider_ref,
    )
    payment.refunds.append(refund)
    session.add(refund)
    ledger.post(
        session=session,
        key=f"refund:{refund_no}",
        kind="refund",
        order_id=payment.order_id,
        lines=rules.refund_paid(payment.order_id, amount),
        memo=reason[:300],
    )
    return refund


def forfeit(*, session: Session, order_id: int, amount_fen: int, reason: str) -> Forfeiture | None:
    """Keep ``amount_fen`` of what is held for an order as forfeited income (once per order).

    The amount is what the order's deposit policy allows (``ordering.rules.settle_cancellation``);
    never more than the ledger holds.
    """
    existing = session.scalar(select(Forfeiture).where(Forfeiture.order_id == order_id))
    if existing is not None:
        return existing
    held = min(amount_fen, ledger.held_for_order(session=session, order_id=order_id))
    if held <= 0:
        return None
    forfeiture = Forfeiture(order_id=order_id, amount_fen=held, reason=reason[:200])
    session.add(forfeiture)
    ledger.post(
        session=session,
        key=f"forfeit:{order_id}",
        kind="forfeit",
        order_id=order_id,
        lines=rules.deposit_forfeited(order_id, held),
        memo=reason[:300],
    )
    return forfeiture


STORE_PROVIDER = "store"  # the provider name of money taken at a store's till and recorded by staff


def record_store_payment(
    *, session: Session, principal: Principal, order_id: int, amount_fen: int, reference: str
) -> Payment:
    """Book a balance payment taken at a store (once per reference), through the ledger and the audit log."""
    reference = reference.strip()[:80]
    if not reference:
        raise PolicyViolation("Give the till or bank reference of the payment.")
    existing = session.scalar(
        select(Payment).where(
            Payment.order_id == order_id,
            Payment.provider == STORE_PROVIDER,
            Payment.provider_txn_id == reference,
        )
    )
    if existing is not None:
        return existing
    payment = Payment(
        trade_no=new_trade_no(),
        order_id=order_id,
        purpose=PaymentPurpose.BALANCE,
        provider=STORE_PROVIDER,
        amount_fen=amount_fen,
        status=PaymentStatus.SUCCEEDED,
        provider_txn_id=reference,
        paid_at=utcnow(),
    )
    session.add(payment)
    session.flush()
    ledger.post(
        session=session,
        key=f"payment:{payment.trade_no}",
        kind="payment",
        order_id=order_id,
        lines=rules.payment_received(order_id, amount_fen),
        memo=f"balance at store, ref {reference}, by {principal.actor}",
    )
    audit.record(
        session=session,
        principal=principal,
        action="payment.record_at_store",
        target_type="order",
        target_id=order_id,
        detail={"trade_no": payment.trade_no, "amount_fen": amount_fen, "reference": reference},
    )
    return payment


def refund_surplus(
    *,
    session: Session,
    provider: PaymentProvider,
    principal: Principal,
    order_id: int,
    total_fen: int,
    reason: str = "balance over-paid: surplus refunded",
) -> list[Refund]:
    """Give back whatever the ledger holds for an order above its price (idempotent, audited).

    A late notification for an attempt the buyer had abandoned can leave more held than the car
    costs. The surplus goes back from the newest succeeded balance payments first: online ones
    through the provider, store ones as cash at the till. Each refund number is derived from the
    payment and what it had refunded before, so a repeated or concurrent run cannot refund twice.
    """
    surplus = ledger.held_for_order(session=session, order_id=order_id) - total_fen
    if surplus <= 0:
        return []
    paid = [
        p
        for p in payments_for_order(session=session, order_id=order_id)
        if p.purpose is PaymentPurpose.BALANCE and p.status is PaymentStatus.SUCCEEDED
    ]
    paid.sort(key=lambda p: (p.provider == STORE_PROVIDER, -p.id))  # online first, newest first
    done: list[Refund] = []
    for payment in paid:
        left = payment.amount_fen - refunded_fen(payment)
        if left <= 0:
            continue
        amount = min(left, surplus)
        refund_no = f"RS-{payment.trade_no}-{refunded_fen(payment)}"[:60]
        provider_ref = "cash at the till"
        if payment.provider != STORE_PROVIDER:
            result = provider_for(provider, payment.provider).refund(
                trade_no=payment.trade_no, refund_no=refund_no, amount_fen=amount, reason=reason
            )
            if not result.accepted:
                raise PaymentFailed(f"The provider refused refund {refund_no}; nothing was refunded.")
            provider_ref = result.provider_ref
        refund = Refund(
            refund_no=refund_no,
            payment_id=payment.id,
            order_id=order_id,
            amount_fen=amount,
            reason=reason[:200],
            provider_ref=provider_ref[:80],
        )
        payment.refunds.append(refund)
        session.add(refund)
        ledger.post(
            session=session,
            key=f"refund:{refund_no}",
            kind="refund",
            order_id=order_id,
            lines=rules.refund_paid(order_id, amount),
            memo=reason[:300],
        )
        audit.record(
            session=session,
            principal=principal,
            action="payment.refund_surplus",
            target_type="order",
            target_id=order_id,
            detail={"trade_no": payment.trade_no, "refund_no": refund_no, "amount_fen": amount},
        )
        done.append(refund)
        surplus -= amount
        if surplus <= 0:
            break
    session.flush()
    return done

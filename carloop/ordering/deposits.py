"""Phase two of a reservation: the deposit paid (the capture handler payments calls), or not paid in
time (the lapse job), and going back to pay.

``on_deposits_captured`` is registered at the edge as the payments domain's handler for deposits: it
runs in the transaction that captured the money. A paid order becomes ``reserved`` (``locked`` for a
numbered edition holding its number; ``waitlisted`` for an edition buyer still waiting for one). A
deposit that arrives for an order that is no longer waiting for it (lapsed, cancelled, paid twice) is
refunded at once. ``lapse_unpaid`` ends the reservations whose payment window has passed: their
payments are closed, their edition numbers pass to the first buyer waiting, and everyone behind them
in the queue moves up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from carloop.clock import as_utc, utcnow
from carloop.errors import Conflict, ErrorCode
from carloop.ordering import lifecycle, locks, rules
from carloop.ordering.models import Order, OrderEvent
from carloop.ordering.rules import OrderStatus
from carloop.payments import captures, ledger
from carloop.payments import service as payments
from carloop.payments.models import Payment, PaymentPurpose, PaymentStatus
from carloop.payments.providers.base import PaymentProvider
from carloop.payments.service import NotificationOutcome, NotificationResult

LAPSE_BATCH = 500  # reservations lapsed per transaction


def start_deposit_payment(*, session: Session, provider: PaymentProvider, order: Order) -> Payment:
    """The pending deposit payment of an unpaid order, started again if the last one was closed."""
    if order.status is not OrderStatus.PENDING_PAYMENT:
        raise Conflict(
            f"Order {order.number} is {order.status}; its deposit is not due.", code=ErrorCode.CONFLICT
        )
    for payment in payments.payments_for_order(session=session, order_id=order.id):
        if payment.purpose is PaymentPurpose.DEPOSIT and payment.status is PaymentStatus.PENDING:
            return payment
    started = captures.start_many(
        session=session,
        provider=provider,
        requests=[
            captures.PaymentRequest(
                order_id=order.id,
                customer_id=order.customer_id,
                purpose=PaymentPurpose.DEPOSIT,
                amount_fen=order.deposit_fen,
                return_url=f"/orders/{order.number}",
            )
        ],
        now=utcnow(),
    )
    return payments.get_payment(session=session, trade_no=started[0].trade_no)


def subject(order: Order) -> str:
    """What the buyer sees at the provider's cashier for an order's deposit."""
    return f"Deposit {order.number} {order.quote.get('summary_en', '')}"[:120]


def on_payments_captured(
    *, session: Session, provider: PaymentProvider, results: Sequence[NotificationResult]
) -> None:
    """Settle captured car-order payments (the payments domain's handler for deposits and balances).

    The orders' rows are locked first (``ordering.locks``: orders, then their payments); the edge
    hands ``locks.lock_orders`` to the capture so it runs before the payments are locked.
    """
    captured = [r.payment for r in results if r.outcome is NotificationOutcome.CAPTURED]
    if not captured:
        return
    ids = [int(p.order_id or 0) for p in captured]
    locks.lock_orders(session, ids)
    # The timelines in one query (each transition appends to one), not one lazy load per order.
    orders = {
        o.id: o
        for o in session.scalars(select(Order).where(Order.id.in_(ids)).options(selectinload(Order.events)))
    }
    for payment in captured:
        _captured(session, provider, orders[int(payment.order_id or 0)], payment)
    session.flush()


def _captured(session: Session, provider: PaymentProvider, order: Order, payment: Payment) -> None:
    actor = f"provider:{provider.name}"
    deposit = payment.purpose is PaymentPurpose.DEPOSIT
    # What the books hold matters only to a balance payment (a deposit is usable iff it is awaited).
    held = 0 if deposit else ledger.held_for_order(session=session, order_id=order.id)
    unusable = rules.unusable_capture_fen(
        order.status, deposit=deposit, amount_fen=payment.amount_fen, held_fen=held, total_fen=order.total_fen
    )
    if unusable:
        # Paid after the reservation lapsed or the order ended (or was delivered), or a second
        # deposit: what the order can no longer use goes back at once.
        payments.refund_payment(
            session=session,
            provider=provider,
            payment=payment,
            amount_fen=unusable,
            reason=f"order {order.number} is {order.status}",
        )
        kind = "deposit" if deposit else "balance"
        order.events.append(
            OrderEvent(
                actor=actor,
                from_status=str(order.status),
                to_status=str(order.status),
                reason=f"a late or duplicate {kind} payment was refunded automatically",
                data={
                    "trade_no": payment.trade_no,
                    "amount_fen": payment.amount_fen,
                    "refunded_fen": unusable,
                },
            )
        )
        return
    if not deposit:
        return
    paid_at = payment.paid_at or utcnow()
    order.paid_at = paid_at
    order.payment_due_at = None
    if order.edition and order.edition_number is None:
        # Every number is held by someone before this buyer: the deposit waits, refundable, for one.
        order.refundable_until = rules.waitlist_until(paid_at)
        lifecycle.move(
            session,
            order,
            OrderStatus.WAITLISTED,
            actor=actor,
            reason=f"deposit paid; edition {order.edition} is taken, waiting for a number",
            trade_no=payment.trade_no,
        )
        return
    order.refundable_until = rules.refundable_until(
        paid_at, refundable_hours=order.refundable_hours, lock_at_payment=order.lock_at_payment
    )
    target = rules.status_after_deposit(lock_at_payment=order.lock_at_payment)
    reason = "deposit paid; numbered edition locks at payment" if order.lock_at_payment else "deposit paid"
    lifecycle.move(session, order, target, actor=actor, reason=reason, trade_no=payment.trade_no)


HANDLERS: dict[PaymentPurpose, captures.CaptureHandler] = {
    PaymentPurpose.DEPOSIT: on_payments_captured,
    PaymentPurpose.BALANCE: on_payments_captured,
}


def lapse_unpaid(*, session: Session, now: datetime | None = None, limit: int = LAPSE_BATCH) -> int:
    """End the unpaid reservations whose payment window has passed; returns how many lapsed.

    Each lapsed order is cancelled (nothing was paid), its pending payments are closed (a deposit
    that still arrives is refunded on capture), its edition number passes to the first buyer waiting,
    and everyone behind it in its model's queue moves up one place per lapsed order ahead of them.
    """
    now = now or utcnow()
    due = list(
        session.scalars(
            select(Order)
            .where(Order.status == OrderStatus.PENDING_PAYMENT, Order.payment_due_at <= now)
            .options(selectinload(Order.events))
            .order_by(Order.id)
            .limit(limit)
            .with_for_update()
        )
    )
    if not due:
        return 0
    pending = session.scalars(
        select(Payment).where(
            Payment.order_id.in_([o.id for o in due]), Payment.status == PaymentStatus.PENDING
        )
    )
    for payment in pending:
        payments.close_payment(session=session, payment=payment)
    for order in due:
        lifecycle.move(
            session,
            order,
            OrderStatus.CANCELLED,
            actor="system",
            reason="the deposit was not paid within the payment window",
            payment_due_at=order.payment_due_at.isoformat() if order.payment_due_at else None,
        )
    lifecycle.give_up_places(session, due)
    session.flush()
    return len(due)


def next_lapse_at(*, session: Session) -> datetime | None:
    """When the next unpaid reservation's payment window ends (None if none is waiting)."""
    due = session.scalar(
        select(func.min(Order.payment_due_at)).where(Order.status == OrderStatus.PENDING_PAYMENT)
    )
    return None if due is None else as_utc(due)


def handle_notification(
    *, session: Session, provider: PaymentProvider, form: Mapping[str, str]
) -> NotificationResult:
    """Verify and apply one car-order notification (scripts and tests; the server wires every purpose)."""
    return captures.handle_notification(
        session=session, provider=provider, form=form, handlers=HANDLERS, lock_first=locks.lock_orders
    )

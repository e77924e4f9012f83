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

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.orm import Session, selectinload

from carloop import batch_sql
from carloop.clock import as_utc, utcnow
from carloop.errors import Conflict, ErrorCode
from carloop.ordering import events as order_events
from carloop.ordering import lifecycle, locks, rules
from carloop.ordering.models import Order, OrderEvent
from carloop.ordering.rules import OrderStatus
from carloop.outbox import service as outbox
from carloop.payments import captures, ledger
from carloop.payments import service as payments
from carloop.payments.models import Payment, PaymentPurpose, PaymentStatus
from carloop.payments.providers.base import PaymentProvider
from carloop.payments.service import NotificationOutcome, NotificationResult, PaymentFacts

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
    hands ``locks.lock_order_rows`` to the capture so it runs before the payments are locked. The
    common case of a launch, a deposit paid inside its window for an order that holds what it asked
    for, is settled in a few statements per batch (``_settle_awaited``); the rest one by one.
    """
    captured = [r.payment for r in results if r.outcome is NotificationOutcome.CAPTURED]
    if not captured:
        return
    rest = _settle_awaited(session, provider, captured)
    if not rest:
        return
    locks.lock_orders(session, [int(p.order_id or 0) for p in rest])
    # The timelines in one query (each transition appends to one), not one lazy load per order.
    orders = {
        o.id: o
        for o in session.scalars(
            select(Order)
            .where(Order.id.in_({int(p.order_id or 0) for p in rest}))
            .options(selectinload(Order.events))
            .execution_options(populate_existing=True)
        )
    }
    for facts in rest:  # the payment itself (it may be refunded): loaded one by one, rare
        payment = payments.get_payment(session=session, trade_no=facts.trade_no)
        _captured(session, provider, orders[int(facts.order_id or 0)], payment)
    session.flush()


_AWAITED = (
    Order.id, Order.number, Order.customer_id, Order.status, Order.model, Order.trim, Order.edition,
    Order.edition_number, Order.refundable_hours, Order.lock_at_payment, Order.locked_at,
)  # fmt: skip


def _settle_awaited(
    session: Session, provider: PaymentProvider, captured: list[PaymentFacts]
) -> list[PaymentFacts]:
    """Settle, in one UPDATE, one INSERT of events and one of outbox rows, the deposits their orders
    await (pending payment: reserved, locked, or waitlisted for an edition number); returns the
    payments left to settle one by one (late, duplicate or balance payments)."""
    rows = {
        r.id: r
        for r in session.execute(
            select(*_AWAITED).where(Order.id.in_({int(p.order_id or 0) for p in captured})).with_for_update()
        )
    }
    actor = f"provider:{provider.name}"
    now = utcnow()
    conn = session.connection()
    table = cast(Table, Order.__table__)
    time_of = _db_times(conn, table.c.paid_at)
    settled: set[int] = set()
    rest: list[PaymentFacts] = []
    updates: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    published: list[order_events.OrderStatusChanged | order_events.OrderLocked] = []
    for payment in captured:
        oid = int(payment.order_id or 0)
        row = rows.get(oid)
        awaited = (
            row is not None
            and payment.purpose is PaymentPurpose.DEPOSIT
            and row.status is OrderStatus.PENDING_PAYMENT
            and oid not in settled
        )
        if not awaited or row is None:
            rest.append(payment)  # a second deposit of the batch is refunded after the first settles
            continue
        settled.add(oid)
        paid_at = payment.paid_at or now
        until: datetime | None
        if row.edition and row.edition_number is None:
            # Every number is held by someone before this buyer: the deposit waits, refundable, for one.
            target, until = OrderStatus.WAITLISTED, rules.waitlist_until(paid_at)
            reason = f"deposit paid; edition {row.edition} is taken, waiting for a number"
        else:
            target = rules.status_after_deposit(lock_at_payment=row.lock_at_payment)
            until = rules.refundable_until(
                paid_at, refundable_hours=row.refundable_hours, lock_at_payment=row.lock_at_payment
            )
            locked = row.lock_at_payment
            reason = "deposit paid; numbered edition locks at payment" if locked else "deposit paid"
        rules.check_transition(row.status, target)
        locked_at = now if target is OrderStatus.LOCKED else row.locked_at
        updates.append((str(target), time_of(paid_at), time_of(until), time_of(locked_at), time_of(now), oid))
        data = {"trade_no": payment.trade_no}
        events.append((oid, time_of(now), actor, str(row.status), str(target), reason, batch_sql.dumps(data)))
        published.append(
            order_events.OrderStatusChanged(
                order_id=oid, number=row.number, customer_id=row.customer_id,
                from_status=str(row.status), to_status=str(target), actor=actor,
            )
        )  # fmt: skip
        if target is OrderStatus.LOCKED:
            published.append(
                order_events.OrderLocked(
                    order_id=oid,
                    number=row.number,
                    customer_id=row.customer_id,
                    model=row.model,
                    trim=row.trim,
                )
            )
    if updates:
        mark = batch_sql.placeholder(conn)
        conn.exec_driver_sql(
            f"UPDATE orders SET status = {mark}, paid_at = {mark}, payment_due_at = NULL, "  # noqa: S608
            f"refundable_until = {mark}, locked_at = {mark}, updated_at = {mark}, version = version + 1 "
            f"WHERE id = {mark}",
            updates,
        )
        batch_sql.insert_many(
            conn,
            cast(Table, OrderEvent.__table__),
            ("order_id", "at", "actor", "from_status", "to_status", "reason", "data"),
            events,
        )
        outbox.record_many(session=session, events=published, now=now)
        for obj in list(session.identity_map.values()):  # an order loaded earlier reads the new row
            if isinstance(obj, Order) and obj.id in settled:
                session.expire(obj)
    return rest


def _db_times(conn: Connection, column: Any) -> Callable[[datetime | None], Any]:
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return (lambda v: None if v is None else process(v)) if process else (lambda v: v)


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
        session=session, provider=provider, form=form, handlers=HANDLERS, lock_first=locks.lock_order_rows
    )

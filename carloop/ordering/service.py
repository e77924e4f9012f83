"""Order use cases after reserving: read, lock, cancel, refund, the automatic lock, delivery stores.

Reserving is ``ordering.reservations`` (``reserve_many``), the deposit's capture and the lapse of
unpaid reservations ``ordering.deposits``; ``reserve``, ``start_deposit_payment`` and
``handle_notification`` here are their one-order forms for scripts and tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from carloop.accounts.schemas import Principal, Role
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import as_utc, utcnow
from carloop.errors import ErrorCode, InvalidTransition, NotFound, PolicyViolation
from carloop.ordering import deposits, lifecycle, locks, reservations, rules
from carloop.ordering.lifecycle import facts, new_order_number
from carloop.ordering.models import Order, OrderChange, OrderEvent, QueueCounter
from carloop.ordering.rules import CancelMoney, OrderStatus
from carloop.payments import ledger
from carloop.payments import service as payments
from carloop.payments.models import Account, Payment, PaymentPurpose, PaymentStatus, Posting
from carloop.payments.providers.base import PaymentProvider
from carloop.payments.rules import OrderTerms as PaymentTerms
from carloop.payments.service import NotificationResult

__all__ = ["Order", "facts", "new_order_number"]


def reserve(
    *,
    session: Session,
    customer_id: int,
    config: ConfigurationIn,
    delivery_store_id: int | None = None,
    identity_hash: str | None = None,
    provider: PaymentProvider | None = None,
    now: datetime | None = None,
) -> Order:
    """Reserve one configuration (``reservations.reserve``) and return the order, unpaid."""
    made = reservations.reserve(
        session=session,
        provider=provider,
        customer_id=customer_id,
        config=config,
        identity_hash=identity_hash,
        delivery_store_id=delivery_store_id,
        now=now,
    )
    order = session.get(Order, made.order_id)
    assert order is not None  # just written in this transaction
    return order


def start_deposit_payment(
    *, session: Session, provider: PaymentProvider, order: Order, base_url: str = ""
) -> Payment:
    """The pending deposit payment of an unpaid order (``deposits.start_deposit_payment``)."""
    del base_url  # the pay link is ours; the provider's cashier URL is made when the buyer opens it
    return deposits.start_deposit_payment(session=session, provider=provider, order=order)


def handle_notification(
    *, session: Session, provider: PaymentProvider, form: Mapping[str, str]
) -> NotificationResult:
    """Verify and apply one car-order notification (``deposits.handle_notification``)."""
    return deposits.handle_notification(session=session, provider=provider, form=form)


def queue_length(*, session: Session, model: str) -> int:
    """How many queue places a model has given so far (reservations still holding one)."""
    counter = session.get(QueueCounter, model)
    return counter.last if counter is not None else 0


def advance(
    *, session: Session, order: Order, target: OrderStatus, actor: str, reason: str, **data: Any
) -> Order:
    """Move a locked order along production and delivery (scheduled ... delivered), recorded and published."""
    if order.status is target:
        return order
    lifecycle.move(session, order, target, actor=actor, reason=reason, **data)
    session.flush()
    return order


def load(*, session: Session, number: str, for_update: bool = False) -> Order:
    """An order by number, with its events."""
    query = select(Order).where(Order.number == number).options(selectinload(Order.events))
    if for_update:
        query = query.with_for_update()
    order = session.scalar(query)
    if order is None:
        raise NotFound(f"No order {number}.")
    return order


def get_for(*, session: Session, principal: Principal, number: str, for_update: bool = False) -> Order:
    """An order the principal may see; anyone else's is reported as not found."""
    order = load(session=session, number=number, for_update=for_update)
    if not may_see(principal, order):
        raise NotFound(f"No order {number}.")
    settle_if_due(session=session, order=order)
    return order


def may_see(principal: Principal, order: Order) -> bool:
    """Customers see their own orders; store staff their store's; HQ and admins all."""
    if principal.role is Role.CUSTOMER:
        return order.customer_id == principal.customer_id
    if principal.role is Role.STORE_STAFF:
        return order.delivery_store_id is not None and order.delivery_store_id == principal.store_id
    return principal.role in (Role.HQ_OPS, Role.ADMIN)


def list_for_customer(*, session: Session, customer_id: int) -> list[Order]:
    """A customer's orders, newest first, with any due automatic lock applied."""
    orders = list(
        session.scalars(
            select(Order)
            .where(Order.customer_id == customer_id)
            .options(selectinload(Order.events))
            .order_by(Order.id.desc())
        )
    )
    for order in orders:
        settle_if_due(session=session, order=order)
    return orders


def search(
    *,
    session: Session,
    principal: Principal,
    text: str = "",
    status: OrderStatus | None = None,
    customer_id: int | None = None,
    limit: int = 50,
) -> list[Order]:
    """Staff search by order number, model, buyer or status, limited to what the role may see."""
    query = select(Order).order_by(Order.id.desc()).limit(max(1, min(limit, 200)))
    if principal.role is Role.STORE_STAFF:
        query = query.where(Order.delivery_store_id == principal.store_id)
    elif principal.role not in (Role.HQ_OPS, Role.ADMIN):
        return []
    if customer_id is not None:
        query = query.where(Order.customer_id == customer_id)
    elif text:
        needle = f"%{text.strip().upper()}%"
        query = query.where(Order.number.like(needle) | (Order.model == text.strip().lower()))
    if status is not None:
        query = query.where(Order.status == status)
    return list(session.scalars(query))


def settle_if_due(*, session: Session, order: Order, now: datetime | None = None) -> bool:
    """Lock a reserved order whose refundable window has ended, stamped with the window's end; True if it did.

    The lock time is the promise (the window's end), not the moment someone noticed: a late sweep
    must not move the buyer back in the production order, which is by lock time.
    """
    now = now or utcnow()
    if not rules.due_for_auto_lock(facts(order), now):
        return False
    assert order.refundable_until is not None  # due_for_auto_lock needs a window
    lifecycle.move(
        session,
        order,
        OrderStatus.LOCKED,
        actor="system",
        reason="the refundable window ended",
        at=as_utc(order.refundable_until),
        noticed_at=now.isoformat(),
    )
    session.flush()
    return True


def auto_lock_due(*, session: Session, now: datetime | None = None) -> int:
    """Lock every reserved order whose window has ended; returns how many were locked."""
    now = now or utcnow()
    due = session.scalars(
        select(Order)
        .where(Order.status == OrderStatus.RESERVED, Order.refundable_until <= now)
        .order_by(Order.id)
        .with_for_update()
    )
    return sum(settle_if_due(session=session, order=order, now=now) for order in due)


def next_auto_lock_at(*, session: Session) -> datetime | None:
    """When the next reserved order's refundable window ends (None if no order is waiting to lock)."""
    due = session.scalar(
        select(func.min(Order.refundable_until)).where(
            Order.status == OrderStatus.RESERVED, Order.refundable_until.is_not(None)
        )
    )
    return None if due is None else as_utc(due)


def lock(
    *,
    session: Session,
    order: Order,
    confirmation: rules.LockConfirmation,
    actor: str,
    now: datetime | None = None,
) -> Order:
    """Lock a reserved order early, only with the buyer's explicit confirmation."""
    if settle_if_due(session=session, order=order, now=now):
        return order
    if order.status is OrderStatus.LOCKED:
        return order
    if order.status is not OrderStatus.RESERVED:
        raise InvalidTransition(
            f"Only a reserved order can be locked; order {order.number} is {order.status}."
        )
    rules.check_lock_confirmation(
        confirmation, deposit_fen=order.deposit_fen, configuration=configuration_summary(order)
    )
    lifecycle.move(
        session, order, OrderStatus.LOCKED, actor=actor, reason="locked early by the buyer, confirmed"
    )
    session.flush()
    return order


def configuration_summary(order: Order) -> str:
    """The configuration line a buyer repeats to confirm an early lock."""
    return str(order.quote.get("summary_en") or f"{order.model} {order.trim}")


def refund_deposit(
    *, session: Session, provider: PaymentProvider, order: Order, actor: str, now: datetime | None = None
) -> Order:
    """Refund a refundable deposit and end the order; calling it again changes nothing."""
    if order.status is OrderStatus.REFUNDED:
        return order
    now = now or utcnow()
    verdict = rules.refundability(facts(order), now)
    if not verdict.refundable:
        settle_if_due(session=session, order=order, now=now)
        raise PolicyViolation(
            f"The deposit of order {order.number} is not refundable: {verdict.reason}.",
            code=ErrorCode.NOT_REFUNDABLE,
            reason=str(verdict.reason),
        )
    _return_all(session, provider, order, reason="deposit refunded at the buyer's request")
    lifecycle.move(
        session, order, OrderStatus.REFUNDED, actor=actor, reason="deposit refunded within the window"
    )
    session.flush()
    return order


def cancel(
    *,
    session: Session,
    provider: PaymentProvider,
    order: Order,
    actor: str,
    accept_forfeit: bool = False,
    now: datetime | None = None,
) -> Order:
    """Cancel an order: unpaid ones simply end, refundable ones are refunded, locked ones forfeit."""
    if order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        return order
    now = now or utcnow()
    plan = rules.plan_cancellation(facts(order), now)
    if plan.money is CancelMoney.REFUND:
        return refund_deposit(session=session, provider=provider, order=order, actor=actor, now=now)
    if plan.money is CancelMoney.FORFEIT and not accept_forfeit:
        raise PolicyViolation(
            f"Order {order.number} is locked: cancelling forfeits the deposit. Confirm with accept_forfeit.",
            code=ErrorCode.NOT_REFUNDABLE,
        )
    settle_if_due(session=session, order=order, now=now)
    locks.lock_order(session, order.id)
    paid = locks.lock_payments_of(session, order.id)
    held = [
        rules.HeldPayment(p.id, p.purpose is PaymentPurpose.DEPOSIT, p.amount_fen - payments.refunded_fen(p))
        for p in paid
        if p.status is PaymentStatus.SUCCEEDED
    ]
    settlement = rules.settle_cancellation(plan.money, held, deposit_fen=order.deposit_fen)
    for payment in paid:
        payments.close_payment(session=session, payment=payment)
    by_id = {p.id: p for p in paid}
    for payment_id, amount in settlement.refunds:
        payments.refund_payment(
            session=session,
            provider=provider,
            payment=by_id[payment_id],
            amount_fen=amount,
            reason=f"order {order.number} cancelled: only the deposit is forfeited",
        )
    if settlement.forfeit_fen:
        payments.forfeit(
            session=session,
            order_id=order.id,
            amount_fen=settlement.forfeit_fen,
            reason=f"locked order {order.number} cancelled",
        )
    unpaid = order.status is OrderStatus.PENDING_PAYMENT
    lifecycle.move(
        session,
        order,
        plan.target,
        actor=actor,
        reason=f"cancelled ({plan.money})",
        forfeited_fen=settlement.forfeit_fen,
        refunded_fen=sum(amount for _, amount in settlement.refunds),
    )
    if unpaid:  # an unpaid reservation gives its queue place up; everyone behind it moves up
        lifecycle.give_up_places(session, [order])
    session.flush()
    return order


def money_terms(*, session: Session) -> dict[int, PaymentTerms]:
    """Every order's money policy for the books check: the most it may forfeit and keep now."""
    rows = session.execute(select(Order.id, Order.number, Order.status, Order.deposit_fen, Order.total_fen))
    return {
        int(order_id): PaymentTerms(
            number=str(number),
            forfeit_limit_fen=rules.forfeit_limit_fen(int(deposit_fen)),
            keep_limit_fen=rules.keep_limit_fen(OrderStatus(status), int(total_fen)),
        )
        for order_id, number, status, deposit_fen, total_fen in rows
    }


def check_ledger(*, session: Session) -> ledger.LedgerReport:
    """The full books check with every order's policy: refunded + forfeited + kept = paid, forfeited <=
    the deposit policy, and no ended order keeps money it can no longer use."""
    report = ledger.check(session=session, terms=money_terms(session=session))
    report.account_mismatches += price_change_mismatches(session=session)
    return report


def price_change_mismatches(*, session: Session) -> list[tuple[str, int, int]]:
    """Orders whose post-lock price changes disagree with the ledger or with their price, as
    (``account:order number``, have, want): the receivable booked for an order must be the sum of
    its changes' differences, and each changed order's price its first locked price plus that sum."""
    booked = {
        int(order_id or 0): int(total or 0)
        for order_id, total in session.execute(
            select(Posting.order_id, func.sum(Posting.amount_fen))
            .where(Posting.account == Account.PRICE_CHANGE_RECEIVABLE)
            .group_by(Posting.order_id)
        )
    }
    changes: dict[int, list[OrderChange]] = {}
    for change in session.scalars(select(OrderChange).order_by(OrderChange.id)):
        changes.setdefault(change.order_id, []).append(change)
    orders = {
        int(i): (str(n), int(t))
        for i, n, t in session.execute(
            select(Order.id, Order.number, Order.total_fen).where(Order.id.in_(set(changes) | set(booked)))
        )
    }
    found = []
    for order_id in sorted(set(changes) | set(booked)):
        number, total = orders.get(order_id, (str(order_id), 0))
        made = changes.get(order_id, [])
        want = sum(c.to_total_fen - c.from_total_fen for c in made)
        if booked.get(order_id, 0) != want:
            found.append((f"{Account.PRICE_CHANGE_RECEIVABLE}:{number}", booked.get(order_id, 0), want))
        if made and made[0].from_total_fen + want != total:
            found.append((f"order_total:{number}", total, made[0].from_total_fen + want))
    return found


def _return_all(session: Session, provider: PaymentProvider, order: Order, *, reason: str) -> None:
    for payment in payments.payments_for_order(session=session, order_id=order.id):
        if payment.status is PaymentStatus.SUCCEEDED:
            payments.refund_payment(session=session, provider=provider, payment=payment, reason=reason)
        else:
            payments.close_payment(session=session, payment=payment)


def assign_delivery_store(*, session: Session, order: Order, store_id: int, actor: str, reason: str) -> Order:
    """Set (or change) the centre that hands an order over, recorded in the order's timeline."""
    if order.status in rules.FINAL:
        raise InvalidTransition(f"Order {order.number} is {order.status}; its delivery centre is fixed.")
    previous = order.delivery_store_id
    if previous == store_id:
        return order
    order.delivery_store_id = store_id
    event = OrderEvent(
        actor=actor,
        from_status=str(order.status),
        to_status=str(order.status),
        reason=reason[:300],
        data={"delivery_store_id": store_id, "previous_delivery_store_id": previous},
    )
    order.events.append(event)
    session.add(event)
    session.flush()
    return order


def delivery_store_load(*, session: Session, store_ids: list[int] | None = None) -> dict[int, int]:
    """How many open orders (not delivered or ended) each delivery store holds."""
    query = (
        select(Order.delivery_store_id, func.count(Order.id))
        .where(Order.delivery_store_id.is_not(None), Order.status.not_in(list(rules.FINAL)))
        .group_by(Order.delivery_store_id)
    )
    if store_ids is not None:
        query = query.where(Order.delivery_store_id.in_(store_ids))
    return {int(store_id or 0): int(n) for store_id, n in session.execute(query)}


def orders_for_delivery_store(*, session: Session, store_id: int, statuses: list[OrderStatus]) -> list[Order]:
    """Open orders assigned to a delivery store in the given statuses, newest first."""
    return list(
        session.scalars(
            select(Order)
            .where(Order.delivery_store_id == store_id, Order.status.in_(statuses))
            .options(selectinload(Order.events))
            .order_by(Order.id.desc())
        )
    )

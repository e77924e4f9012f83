"""Order use cases: reserve, pay the deposit, lock, cancel, refund, and the automatic lock."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from carloop.accounts.schemas import Principal, Role
from carloop.catalog import service as catalog
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import as_utc, utcnow
from carloop.errors import Conflict, ErrorCode, InvalidTransition, NotFound, PolicyViolation
from carloop.loyalty import shop
from carloop.ordering import events, locks, rules, terms
from carloop.ordering.intake import rules as intake_rules
from carloop.ordering.intake import store as intake_store  # the intake's batch applies the same limit
from carloop.ordering.models import EditionReturn, EditionStock, Order, OrderEvent, QueueCounter
from carloop.ordering.rules import CancelMoney, OrderStatus
from carloop.outbox import service as outbox
from carloop.payments import ledger
from carloop.payments import service as payments
from carloop.payments.models import Payment, PaymentPurpose, PaymentStatus
from carloop.payments.providers.base import PaymentProvider
from carloop.payments.rules import OrderTerms as PaymentTerms
from carloop.payments.service import NotificationOutcome, NotificationResult

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: order numbers are read aloud


def new_order_number(model: str) -> str:
    """A public order number such as ``SU7-7K3M9Q2X``."""
    return f"{model.upper()[:6]}-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def facts(order: Order) -> rules.DepositFacts:
    """The deposit facts of an order, for the pure rules."""
    return rules.DepositFacts(order.status, order.lock_at_payment, order.refundable_until)


def _move(
    session: Session,
    order: Order,
    target: OrderStatus,
    *,
    actor: str,
    reason: str,
    at: datetime | None = None,
    **data: Any,
) -> None:
    rules.check_transition(order.status, target)
    event = OrderEvent(
        actor=actor, from_status=str(order.status), to_status=str(target), reason=reason, data=data
    )
    order.events.append(event)
    session.add(event)
    previous = order.status
    order.status = target
    now = event.at = at or utcnow()
    if target is OrderStatus.LOCKED:
        order.locked_at = now
    if target in rules.FINAL:
        order.ended_at = now
    _publish(session, order, previous, target, actor, data)
    if target in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        _release_edition_unit(session, order)


def _publish(
    session: Session,
    order: Order,
    previous: OrderStatus,
    target: OrderStatus,
    actor: str,
    data: dict[str, Any],
) -> None:
    if order.id is None:
        session.flush()
    oid, number, cid = order.id, order.number, order.customer_id
    outbox.publish(
        session=session,
        event=events.OrderStatusChanged(
            order_id=oid,
            number=number,
            customer_id=cid,
            from_status=str(previous),
            to_status=str(target),
            actor=actor,
        ),
    )
    if target is OrderStatus.LOCKED:
        outbox.publish(
            session=session,
            event=events.OrderLocked(
                order_id=oid, number=number, customer_id=cid, model=order.model, trim=order.trim
            ),
        )
    elif target in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        outbox.publish(
            session=session,
            event=events.OrderCancelled(
                order_id=oid, number=number, customer_id=cid, from_status=str(previous)
            ),
        )
    elif target is OrderStatus.DELIVERED:
        vin = data.get("vin")
        outbox.publish(
            session=session,
            event=events.OrderDelivered(
                order_id=oid,
                number=number,
                customer_id=cid,
                model=order.model,
                trim=order.trim,
                vin=str(vin) if vin is not None else None,
            ),
        )


def advance(
    *, session: Session, order: Order, target: OrderStatus, actor: str, reason: str, **data: Any
) -> Order:
    """Move a locked order along production and delivery (scheduled ... delivered), recorded and published."""
    if order.status is target:
        return order
    _move(session, order, target, actor=actor, reason=reason, **data)
    session.flush()
    return order


def reserve(
    *,
    session: Session,
    customer_id: int,
    config: ConfigurationIn,
    delivery_store_id: int | None = None,
    identity_hash: str | None = None,
    now: datetime | None = None,
) -> Order:
    """Price a configuration and open an order waiting for its deposit.

    A limited edition needs the buyer's verified identity (``identity_hash``, the keyed hash of the
    identity number) and applies the edition's anti-scalper limit, as the launch intake does: at most
    ``max_orders_per_identity`` orders that have not ended per identity, counted under the edition's
    stock lock so concurrent reservations cannot both slip under it.
    """
    version = catalog.active_catalog_version(session=session)
    quote = catalog.quote(config=config, at=now or utcnow(), version=version)
    deposit = terms.effective_deposit(
        session=session, model=quote.model, trim=quote.trim, policy=quote.deposit
    )
    if deposit != quote.deposit:
        quote = quote.model_copy(update={"deposit": deposit})
    if quote.edition:
        _check_identity_limit(session, quote.edition, identity_hash)
    order = Order(
        number=new_order_number(quote.model),
        customer_id=customer_id,
        status=OrderStatus.PENDING_PAYMENT,
        model=quote.model,
        trim=quote.trim,
        options=list(quote.options),
        catalog_version=quote.catalog_version,
        quote=quote.model_dump(mode="json"),
        total_fen=quote.total_fen,
        deposit_fen=quote.deposit.amount_fen,
        refundable_hours=quote.deposit.refundable_hours,
        lock_at_payment=quote.deposit.lock_at_payment,
        edition=quote.edition,
        delivery_store_id=delivery_store_id,
        identity_hash=identity_hash if quote.edition else None,
    )
    event = OrderEvent(
        actor=f"customer:{customer_id}",
        from_status=None,
        to_status=str(OrderStatus.PENDING_PAYMENT),
        reason="reservation started",
        data={"total_fen": quote.total_fen, "deposit_fen": quote.deposit.amount_fen},
    )
    order.events.append(event)
    session.add_all([order, event])
    session.flush()
    return order


def _check_identity_limit(session: Session, edition: str, identity_hash: str | None) -> None:
    if not identity_hash:
        raise PolicyViolation(
            "A limited edition needs the buyer's verified identity number.",
            code=ErrorCode.IDENTITY_REQUIRED,
            field="id_number",
        )
    limit = intake_rules.policy_for(intake_store.policies(), edition).max_orders_per_identity
    intake_store.lock_edition_stock(session, edition)  # serialises this edition's limit checks
    held = intake_store.held_by_identity(session, edition, [identity_hash])
    if not intake_rules.admit_by_identity([identity_hash], held, limit)[0]:
        raise Conflict(
            f"One verified identity may hold at most {limit} order(s) of edition {edition}.",
            code=ErrorCode.EDITION_LIMIT_REACHED,
            edition=edition,
            limit=limit,
        )


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
    limit: int = 50,
) -> list[Order]:
    """Staff search by order number, model or status, limited to what the role may see."""
    query = select(Order).order_by(Order.id.desc()).limit(max(1, min(limit, 200)))
    if principal.role is Role.STORE_STAFF:
        query = query.where(Order.delivery_store_id == principal.store_id)
    elif principal.role not in (Role.HQ_OPS, Role.ADMIN):
        return []
    if text:
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
    _move(
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


def start_deposit_payment(
    *, session: Session, provider: PaymentProvider, order: Order, base_url: str
) -> Payment:
    """The pending deposit payment of an order, started if there is none yet."""
    if order.status is not OrderStatus.PENDING_PAYMENT:
        raise Conflict(
            f"Order {order.number} is {order.status}; its deposit is not due.", code=ErrorCode.CONFLICT
        )
    for payment in payments.payments_for_order(session=session, order_id=order.id):
        if payment.purpose is PaymentPurpose.DEPOSIT and payment.status is PaymentStatus.PENDING:
            return payment
    quote = order.quote
    return payments.start_payment(
        session=session,
        provider=provider,
        order_id=order.id,
        purpose=PaymentPurpose.DEPOSIT,
        amount_fen=order.deposit_fen,
        subject=f"Deposit {order.number} {quote.get('summary_en', '')}"[:120],
        return_url=f"{base_url.rstrip('/')}/orders/{order.number}",
        notify_url=f"{base_url.rstrip('/')}/api/v1/payments/notify/{provider.name}",
    )


def handle_notification(
    *, session: Session, provider: PaymentProvider, form: Mapping[str, str]
) -> NotificationResult:
    """Verify a provider notification, apply it once, and move the order it pays for."""
    notification = payments.verify(session=session, provider=provider, form=form)
    # The order's row first, then the payment's (locks.py): a capture racing a cancellation of the
    # same order waits for it and then sees the order as it ended.
    order_id = payments.order_of_payment(session=session, trade_no=notification.trade_no)
    order = locks.lock_order(session, order_id) if order_id is not None else None
    result = payments.apply_notification(session=session, notification=notification)
    if result.payment.shop_order_id is not None:  # a merchandise shop payment: the shop settles it
        shop.on_payment_notified(session=session, provider=provider, result=result)
        return result
    if result.outcome is NotificationOutcome.CAPTURED:
        assert order is not None  # payments reference orders by foreign key
        _on_payment_captured(session, provider, order, result.payment)
    return result


def _on_payment_captured(session: Session, provider: PaymentProvider, order: Order, payment: Payment) -> None:
    actor = f"provider:{provider.name}"
    deposit = payment.purpose is PaymentPurpose.DEPOSIT
    unusable = rules.unusable_capture_fen(
        order.status,
        deposit=deposit,
        amount_fen=payment.amount_fen,
        held_fen=ledger.held_for_order(session=session, order_id=order.id),
        total_fen=order.total_fen,
    )
    if unusable:
        # Paid after the order ended (or was delivered), or a second deposit: send it back now.
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
        session.flush()
        return
    if not deposit:
        return
    paid_at = payment.paid_at or utcnow()
    order.paid_at = paid_at
    if order.queue_position is None:
        order.queue_position = _take_position(session, order.model)
    if order.edition and not _take_edition_unit(session, order):
        # Every unit is held: the buyer waits, deposit held and refundable, for a cancellation.
        order.refundable_until = rules.waitlist_until(paid_at)
        _move(
            session,
            order,
            OrderStatus.WAITLISTED,
            actor=actor,
            reason=f"deposit paid; edition {order.edition} is taken, waiting for a unit",
            trade_no=payment.trade_no,
        )
        session.flush()
        return
    order.refundable_until = rules.refundable_until(
        paid_at, refundable_hours=order.refundable_hours, lock_at_payment=order.lock_at_payment
    )
    target = rules.status_after_deposit(lock_at_payment=order.lock_at_payment)
    reason = "deposit paid; numbered edition locks at payment" if order.lock_at_payment else "deposit paid"
    _move(session, order, target, actor=actor, reason=reason, trade_no=payment.trade_no)
    session.flush()


def queue_length(*, session: Session, model: str) -> int:
    """How many queue positions a model has given so far (paid reservations, in arrival order)."""
    counter = session.get(QueueCounter, model)
    return counter.last if counter is not None else 0


def _take_position(session: Session, model: str) -> int:
    """The next gapless queue position of ``model`` (one conditional UPDATE on its counter)."""
    if session.get(QueueCounter, model) is None:
        session.add(QueueCounter(model=model, last=0))
        session.flush()
    last = session.scalar(
        update(QueueCounter)
        .where(QueueCounter.model == model)
        .values(last=QueueCounter.last + 1)
        .returning(QueueCounter.last)
    )
    return int(last or 0)


def _take_edition_unit(session: Session, order: Order) -> bool:
    capacity = catalog.edition_units(order.edition or "")
    if session.get(EditionStock, order.edition) is None:
        session.add(EditionStock(edition=order.edition, capacity=capacity, taken=0))
        session.flush()
    returned = session.scalar(
        select(EditionReturn)
        .where(EditionReturn.edition == order.edition)
        .order_by(EditionReturn.number)
        .limit(1)
        .with_for_update()
    )
    if returned is not None:  # a number given back by a cancellation when nobody was waiting
        order.edition_number = returned.number
        session.delete(returned)
        return True
    taken = session.scalar(
        update(EditionStock)
        .where(EditionStock.edition == order.edition, EditionStock.taken < EditionStock.capacity)
        .values(taken=EditionStock.taken + 1)
        .returning(EditionStock.taken)
    )
    if taken is None:
        return False
    order.edition_number = int(taken)
    return True


def _release_edition_unit(session: Session, order: Order) -> None:
    """An edition order ended before delivery: its number goes to the first buyer waiting, or back."""
    if not order.edition or order.edition_number is None:
        return
    edition, number = order.edition, order.edition_number
    order.edition_number = None
    session.flush()  # free (edition, number) before anyone else takes it
    heir = session.scalar(
        select(Order)
        .where(Order.edition == edition, Order.status == OrderStatus.WAITLISTED)
        .order_by(Order.queue_position, Order.id)
        .limit(1)
        .with_for_update()
    )
    if heir is None:
        session.add(EditionReturn(edition=edition, number=number))
        session.flush()
        return
    heir.edition_number = number
    heir.refundable_until = None
    _move(
        session,
        heir,
        OrderStatus.LOCKED,
        actor="system",
        reason=f"edition unit {number} passed on from a cancellation; numbered edition locks",
        edition_number=number,
    )
    session.flush()


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
    _move(session, order, OrderStatus.LOCKED, actor=actor, reason="locked early by the buyer, confirmed")
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
    _move(session, order, OrderStatus.REFUNDED, actor=actor, reason="deposit refunded within the window")
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
    _move(
        session,
        order,
        plan.target,
        actor=actor,
        reason=f"cancelled ({plan.money})",
        forfeited_fen=settlement.forfeit_fen,
        refunded_fen=sum(amount for _, amount in settlement.refunds),
    )
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
    return ledger.check(session=session, terms=money_terms(session=session))


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

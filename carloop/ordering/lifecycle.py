"""Moving an order along its lifecycle: the recorded transition, its published events, and what an
ending order gives back (its edition number to the first buyer waiting, its queue place to those
behind it)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from carloop.clock import utcnow
from carloop.ordering import events, rules
from carloop.ordering.models import EditionReturn, Order, OrderEvent, QueueCounter
from carloop.ordering.rules import OrderStatus
from carloop.outbox import service as outbox

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: order numbers are read aloud


def new_order_number(model: str) -> str:
    """A public order number such as ``SU7-7K3M9Q2X``."""
    raw = int.from_bytes(secrets.token_bytes(5), "big")  # 40 random bits, 5 per character
    return f"{model.upper()[:6]}-" + "".join(_ALPHABET[(raw >> (5 * k)) & 31] for k in range(8))


def facts(order: Order) -> rules.DepositFacts:
    """The deposit facts of an order, for the pure rules."""
    return rules.DepositFacts(order.status, order.lock_at_payment, order.refundable_until)


def move(
    session: Session,
    order: Order,
    target: OrderStatus,
    *,
    actor: str,
    reason: str,
    at: datetime | None = None,
    **data: Any,
) -> None:
    """Record and apply one transition of ``order`` (at ``at``, now by default) and publish its events."""
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
    publish(session, order, previous, target, actor, data)
    if target in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        release_edition_unit(session, order)


def publish(
    session: Session,
    order: Order,
    previous: OrderStatus,
    target: OrderStatus,
    actor: str,
    data: dict[str, Any],
) -> None:
    """Write the outbox events of one transition."""
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


WAITING = (OrderStatus.WAITLISTED, OrderStatus.PENDING_PAYMENT)  # edition buyers who may wait for a number


def release_edition_unit(session: Session, order: Order) -> None:
    """An edition order ended before delivery: its number goes to the first buyer waiting, or back.

    The first buyer waiting is the one with the earliest queue place among those of the edition with
    no number: a paid one (waitlisted) locks at once; an unpaid one holds the number for the rest of
    its payment window. With nobody waiting the number is kept for the next reservation.
    """
    if not order.edition or order.edition_number is None:
        return
    edition, number = order.edition, order.edition_number
    order.edition_number = None
    session.flush()  # free (edition, number) before anyone else takes it
    heir = session.scalar(
        select(Order)
        .where(
            Order.edition == edition,
            Order.status.in_(WAITING),
            Order.edition_number.is_(None),
            Order.id != order.id,
        )
        .order_by(Order.queue_position, Order.id)
        .limit(1)
        .with_for_update()
    )
    if heir is None:
        session.add(EditionReturn(edition=edition, number=number))
        session.flush()
        return
    heir.edition_number = number
    if heir.status is OrderStatus.PENDING_PAYMENT:
        heir.events.append(
            OrderEvent(
                actor="system",
                from_status=str(heir.status),
                to_status=str(heir.status),
                reason=f"edition number {number} passed on; it is held until the payment window ends",
                data={"edition_number": number},
            )
        )
        session.flush()
        return
    heir.refundable_until = None
    move(
        session,
        heir,
        OrderStatus.LOCKED,
        actor="system",
        reason=f"edition unit {number} passed on from a cancellation; numbered edition locks",
        edition_number=number,
    )
    session.flush()


def give_up_places(session: Session, orders: Iterable[Order]) -> None:
    """Orders ending unpaid give up their queue places; everyone behind them moves up, in order.

    Paid places stay gap-free: per model, the orders behind the first freed place are renumbered
    from it (see :func:`close_queue_gaps`).
    """
    freed: dict[str, int] = {}
    for order in orders:
        if order.queue_position is not None:
            freed[order.model] = min(freed.get(order.model, order.queue_position), order.queue_position)
            order.queue_position = None
    if freed:
        session.flush()
        close_queue_gaps(session, freed)


def close_queue_gaps(session: Session, freed: Mapping[str, int]) -> None:
    """Renumber each model's queue places from its first freed place so they stand at 1..n again.

    The counter row is locked first, as a reservation batch does, so no place is handed out
    meanwhile. Two statements per model, through negative numbers, so the unique key never sees two
    orders on one place mid-way.
    """
    for model in sorted(freed):
        start = freed[model]
        counter = session.scalar(select(QueueCounter).where(QueueCounter.model == model).with_for_update())
        if counter is None:
            continue
        params = {"model": model, "start": start}
        session.execute(
            text(
                "UPDATE orders SET queue_position = -(ranked.place + :start - 1) FROM ("
                " SELECT id, ROW_NUMBER() OVER (ORDER BY queue_position) AS place FROM orders"
                " WHERE model = :model AND queue_position >= :start) AS ranked"
                " WHERE orders.id = ranked.id"
            ),
            params,
        )
        session.execute(
            text(
                "UPDATE orders SET queue_position = -queue_position"
                " WHERE model = :model AND queue_position < 0"
            ),
            {"model": model},
        )
        last = session.scalar(
            text("SELECT coalesce(max(queue_position), 0) FROM orders WHERE model = :model"), {"model": model}
        )
        counter.last = int(last or 0)
        session.flush()
    session.expire_all()

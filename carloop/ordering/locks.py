"""Row locks of the money path, written once and always taken in one order (saleor's ``lock_objects``).

On PostgreSQL only row locks keep two transactions that move one order's money from deciding on
the same stale balance (a late capture racing the cancellation, two captures racing each other).
Every use case that moves an order's money takes its locks here, in this order:

    orders (by id)  ->  that order's payments (by id)

so two transactions never wait on each other in opposite directions (no deadlocks). SQLite has no
row locks; it serialises writers with ``BEGIN IMMEDIATE`` (``db.py``), and ``FOR UPDATE`` is left out
of its SQL.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.ordering.models import Order
from carloop.payments.models import Payment


def lock_orders(session: Session, order_ids: Iterable[int]) -> list[Order]:
    """Lock the orders' rows, lowest id first, and return them (refreshed) in that order."""
    ids = sorted(set(order_ids))
    if not ids:
        return []
    query = (
        select(Order)
        .where(Order.id.in_(ids))
        .order_by(Order.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def lock_order_rows(session: Session, order_ids: Iterable[int]) -> None:
    """Lock the orders' rows, lowest id first, without loading them (the capture's first lock)."""
    ids = sorted(set(order_ids))
    if ids:
        session.execute(select(Order.id).where(Order.id.in_(ids)).order_by(Order.id).with_for_update()).all()


def lock_order(session: Session, order_id: int) -> Order | None:
    """Lock one order's row (the first lock of any use case that moves its money)."""
    found = lock_orders(session, [order_id])
    return found[0] if found else None


def lock_payments_of(session: Session, order_id: int) -> list[Payment]:
    """Lock an order's payments, lowest id first, after the order itself; returns them refreshed."""
    query = (
        select(Payment)
        .where(Payment.order_id == order_id)
        .order_by(Payment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))

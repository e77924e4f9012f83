"""What the buyer's order page says about the state an order ended in or stands in.

A refunded order shows how much went back, along which route and by when it arrives; a cancelled order
whether money was returned or the deposit kept; a lapsed reservation that nothing was paid. Read-only:
it reads refunds and forfeitures the payment domain recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.payments.models import Forfeiture, Payment, Refund
from carloop.payments.rules import refund_arrives_by

LAPSE_REASON = "the deposit was not paid within the payment window"  # deposits.lapse_unpaid's event reason


@dataclass(frozen=True, slots=True)
class RefundView:
    """One refund as the buyer reads it."""

    amount_fen: int
    provider: str
    refunded_at: datetime
    arrives_by: datetime


@dataclass(frozen=True, slots=True)
class StatePanel:
    """The panel of an order's state: ``kind`` picks the template's panel ("" for none)."""

    kind: str  # "refunded", "cancelled", "lapsed" or ""
    refunds: list[RefundView]
    refunded_fen: int
    forfeited_fen: int
    ended_at: datetime | None


def state_panel(*, session: Session, order: Order) -> StatePanel:
    """The panel for ``order``: refunds and forfeiture of an ended order; nothing for a live one."""
    if order.status not in (OrderStatus.REFUNDED, OrderStatus.CANCELLED):
        return StatePanel("", [], 0, 0, None)
    rows = session.execute(
        select(Refund, Payment.provider)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Refund.order_id == order.id)
        .order_by(Refund.id)
    ).all()
    refunds = [
        RefundView(r.amount_fen, provider, r.created_at, refund_arrives_by(provider, r.created_at))
        for r, provider in rows
    ]
    kept = session.scalars(select(Forfeiture.amount_fen).where(Forfeiture.order_id == order.id)).first()
    last = order.events[-1] if order.events else None
    if order.status is OrderStatus.REFUNDED:
        kind = "refunded"
    elif last is not None and last.reason == LAPSE_REASON:
        kind = "lapsed"
    else:
        kind = "cancelled"
    return StatePanel(
        kind=kind,
        refunds=refunds,
        refunded_fen=sum(r.amount_fen for r in refunds),
        forfeited_fen=kept or 0,
        ended_at=last.at if last is not None else None,
    )

"""Loyalty's reactions to other domains' events (run after commit by the outbox dispatcher)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from carloop.loyalty import service
from carloop.loyalty.rules import EarnReason
from carloop.outbox.service import Handler


def on_order_delivered(session: Session, payload: Mapping[str, Any]) -> None:
    """The owner's car was handed over: credit the delivery points (once per order)."""
    service.award_points(
        session=session,
        customer_id=int(payload["customer_id"]),
        reason=EarnReason.DELIVERY,
        key=str(payload["order_id"]),
        memo=f"{payload.get('number', '')} {payload.get('model', '')}".strip(),
    )


def on_order_locked(session: Session, payload: Mapping[str, Any]) -> None:
    """A referred customer locked an order: credit their referrer (once per referred customer)."""
    customer_id = int(payload["customer_id"])
    referrer = service.referrer_of(session=session, customer_id=customer_id)
    if referrer is None or referrer == customer_id:
        return
    service.award_points(
        session=session,
        customer_id=referrer,
        reason=EarnReason.REFERRAL,
        key=str(customer_id),
        memo=str(payload.get("number", "")),
    )


EVENT_HANDLERS: dict[str, list[Handler]] = {
    "order.delivered": [on_order_delivered],
    "order.locked": [on_order_locked],
}

"""Reactions of the ecosystem to other domains' events (run by the outbox after commit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from carloop.ecosystem import service
from carloop.outbox.service import Handler


def link_delivered_car(session: Session, payload: Mapping[str, Any]) -> None:
    """``order.delivered``: the car becomes the owner's vehicle device (idempotent per order)."""
    service.link_vehicle(
        session=session,
        customer_id=int(payload["customer_id"]),
        order_id=int(payload["order_id"]),
        vin=payload.get("vin"),
        model=str(payload.get("model", "")),
        trim=str(payload.get("trim", "")),
    )


EVENT_HANDLERS: dict[str, list[Handler]] = {"order.delivered": [link_delivered_car]}

"""Appointments' reactions to other domains' events (dispatched after commit through the outbox)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from carloop.appointments import service
from carloop.outbox.service import Handler


def complete_delivery(session: Session, payload: Mapping[str, Any]) -> None:
    """``order.delivered``: its booked delivery appointment happened (a second run changes nothing)."""
    slot = service.delivery_for_order(session=session, order_id=int(payload["order_id"]))
    if slot is not None:
        service.complete(session=session, appointment=slot)


EVENT_HANDLERS: dict[str, list[Handler]] = {
    "order.delivered": [complete_delivery],
}

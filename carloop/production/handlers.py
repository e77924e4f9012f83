"""Production's reactions to order events (run by the outbox after commit; each one is idempotent)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from carloop.outbox.service import Handler
from carloop.production import inventory, service


def on_order_locked(session: Session, payload: Mapping[str, Any]) -> None:
    """A locked order joins its configuration's queue and gets a build week and a promised window."""
    service.enqueue(session=session, number=str(payload["number"]))


def on_order_cancelled(session: Session, payload: Mapping[str, Any]) -> None:
    """A cancelled order leaves the plan; the next orders that fit move into its slot.

    A car already built for it becomes inventory and is offered to the next buyer of its configuration.
    """
    slot = service.slot_for(session=session, order_id=int(payload["order_id"]))
    was_built = slot is not None and slot.active and slot.built and slot.vin is not None
    service.release(session=session, order_id=int(payload["order_id"]))
    if was_built and slot is not None:
        inventory.take_in(session=session, slot=slot)


EVENT_HANDLERS: dict[str, list[Handler]] = {
    "order.locked": [on_order_locked],
    "order.cancelled": [on_order_cancelled],
}

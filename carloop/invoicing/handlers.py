"""Invoicing's reactions to other domains' events (run after commit by the outbox dispatcher)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from carloop.invoicing import service
from carloop.outbox.service import Handler


def on_order_delivered(session: Session, payload: Mapping[str, Any]) -> None:
    """A car was handed over: write its numbered sales document (once per order)."""
    vin = payload.get("vin")
    service.issue_sales_document(
        session=session, order_number=str(payload["number"]), vin=str(vin) if vin else None
    )


EVENT_HANDLERS: dict[str, list[Handler]] = {"order.delivered": [on_order_delivered]}

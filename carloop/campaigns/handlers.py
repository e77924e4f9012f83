"""Campaign reactions to other domains' events (dispatched after commit through the outbox)."""

from __future__ import annotations

from carloop.campaigns import attribution
from carloop.outbox.service import Handler

EVENT_HANDLERS: dict[str, list[Handler]] = {
    "order.status_changed": [attribution.on_order_status_changed],
}

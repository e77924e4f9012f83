"""Every domain's event handlers in one mapping, for the dispatcher."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from carloop.analytics import events as analytics_events
from carloop.ecosystem import events as ecosystem_events
from carloop.loyalty import events as loyalty_events
from carloop.outbox.service import Handler
from carloop.production import events as production_events

# each domain's EVENT_HANDLERS, listed here
DOMAIN_HANDLERS: list[Mapping[str, Sequence[Handler]]] = [
    ecosystem_events.EVENT_HANDLERS,
    analytics_events.EVENT_HANDLERS,
    loyalty_events.EVENT_HANDLERS,
    production_events.EVENT_HANDLERS,
]


def all_handlers() -> dict[str, list[Handler]]:
    """Event name -> the handlers of every domain that reacts to it."""
    merged: dict[str, list[Handler]] = {}
    for handlers in DOMAIN_HANDLERS:
        for name, funcs in handlers.items():
            merged.setdefault(name, []).extend(funcs)
    return merged

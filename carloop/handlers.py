"""Every domain's reactions in one place: event handlers for the outbox dispatcher.

Like ``carloop/models.py`` for tables, this module wires the domains together; the server's start-up
(``web/app.py``) and ``carloop orders dispatch-events`` hand its lists to the outbox, which itself
imports no domain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from carloop.analytics import handlers as analytics_handlers
from carloop.appointments import handlers as appointment_handlers
from carloop.campaigns import handlers as campaign_handlers
from carloop.campaigns import opening as campaign_opening
from carloop.campaigns import prereg_handlers
from carloop.community import handlers as community_handlers
from carloop.ecosystem import handlers as ecosystem_handlers
from carloop.invoicing import handlers as invoicing_handlers
from carloop.loyalty import handlers as loyalty_handlers
from carloop.notices import delivery as notice_delivery
from carloop.ordering import buyer_notices as notice_money
from carloop.outbox.service import Handler
from carloop.production import handlers as production_handlers
from carloop.settings import Settings

# each domain's EVENT_HANDLERS by the domain's name (the name of its durable consumer on JetStream)
DOMAINS: dict[str, Mapping[str, Sequence[Handler]]] = {
    "ecosystem": ecosystem_handlers.EVENT_HANDLERS,
    "appointments": appointment_handlers.EVENT_HANDLERS,
    "analytics": analytics_handlers.EVENT_HANDLERS,
    "loyalty": loyalty_handlers.EVENT_HANDLERS,
    "production": production_handlers.EVENT_HANDLERS,
    "community": community_handlers.EVENT_HANDLERS,
    "invoicing": invoicing_handlers.EVENT_HANDLERS,
    "campaigns": campaign_handlers.EVENT_HANDLERS,
    "campaign_registrations": prereg_handlers.EVENT_HANDLERS,
}
DOMAIN_HANDLERS: list[Mapping[str, Sequence[Handler]]] = list(DOMAINS.values())


def domain_handlers(settings: Settings | None = None) -> dict[str, dict[str, list[Handler]]]:
    """Domain -> its handlers by event name: one JetStream consumer each, so one domain's failure
    delays no other domain's reactions (notices, e-invoices, campaign openings: through the settings'
    providers)."""
    invoicing = {**invoicing_handlers.EVENT_HANDLERS, **invoicing_handlers.handlers(settings)}
    domains = {
        **DOMAINS,
        "invoicing": invoicing,
        "notices": {**notice_money.EVENT_HANDLERS, **notice_delivery.handlers(settings)},
        "campaign_openings": campaign_opening.handlers(settings),
    }
    return {
        domain: {name: list(funcs) for name, funcs in handlers.items()}
        for domain, handlers in domains.items()
    }


def all_handlers(settings: Settings | None = None) -> dict[str, list[Handler]]:
    """Event name -> the handlers of every domain that reacts to it; with ``settings``, also the
    notices' deliveries (and campaigns' opening notices) through the configured SMS and SMTP providers
    and the e-invoices through the configured provider (without, due notices and e-invoices wait)."""
    merged: dict[str, list[Handler]] = {}
    for handlers in [
        *DOMAIN_HANDLERS,
        notice_money.EVENT_HANDLERS,
        notice_delivery.handlers(settings),
        campaign_opening.handlers(settings),
        invoicing_handlers.handlers(settings),
    ]:
        for name, funcs in handlers.items():
            merged.setdefault(name, []).extend(funcs)
    return merged

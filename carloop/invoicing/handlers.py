"""Invoicing's reactions to other domains' events (run after commit by the outbox dispatcher).

A delivered car gets its sales document at once (``order.delivered``) and then, in a transaction of
its own (``einvoice.due``), its official e-invoice through the configured provider: a provider that
is down (``Unavailable``) defers the event (``RetryLater``) and never loses the invoice; the request
number makes a retry the same invoice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from carloop.errors import Unavailable
from carloop.invoicing import service
from carloop.invoicing.fapiao import EInvoiceProvider, build_einvoicer
from carloop.ordering import service as ordering
from carloop.outbox import service as outbox
from carloop.outbox.service import Handler, RetryLater
from carloop.settings import Settings


@dataclass(frozen=True)
class EInvoiceDue:
    """A delivered order's sales document waits for its e-invoice."""

    name: ClassVar[str] = "einvoice.due"
    order_number: str


def on_order_delivered(session: Session, payload: Mapping[str, Any]) -> None:
    """A car was handed over: write its numbered sales document (once per order), its e-invoice next."""
    vin = payload.get("vin")
    number = str(payload["number"])
    service.issue_sales_document(session=session, order_number=number, vin=str(vin) if vin else None)
    outbox.publish(session=session, event=EInvoiceDue(order_number=number))


EVENT_HANDLERS: dict[str, list[Handler]] = {"order.delivered": [on_order_delivered]}


class AutoInvoicer:
    """Issues a delivered order's e-invoice through the provider, as the system (audited)."""

    def __init__(self, provider: EInvoiceProvider) -> None:
        self.provider = provider

    def handle(self, session: Session, payload: Mapping[str, Any]) -> None:
        """The ``einvoice.due`` handler: the blue e-invoice, once (a second run finds it)."""
        order = ordering.load(session=session, number=str(payload["order_number"]))
        document = service.sales_document_of(session=session, order_id=order.id)
        if document is None:
            return
        try:
            service.issue_einvoice(
                session=session,
                provider=self.provider,
                document=document,
                order_number=order.number,
                principal=None,
            )
        except Unavailable as exc:
            raise RetryLater(f"e-invoice provider for {document.number}: {exc.message}") from exc


def handlers(settings: Settings | None) -> dict[str, list[Handler]]:
    """Invoicing's reactions bound to the settings' e-invoice provider: none configured (disabled), the
    maker issues e-invoices offline and nothing is due; without settings the event waits for a
    dispatcher that has them."""
    if settings is None:
        return {EInvoiceDue.name: [_wait_for_settings]}
    provider = build_einvoicer(settings)
    if provider is None:
        return {EInvoiceDue.name: [_issued_offline]}
    return {EInvoiceDue.name: [AutoInvoicer(provider).handle]}


def _wait_for_settings(session: Session, payload: Mapping[str, Any]) -> None:
    raise RetryLater(f"e-invoice of {payload.get('order_number')}: this dispatcher has no provider settings")


def _issued_offline(session: Session, payload: Mapping[str, Any]) -> None:
    """E-invoices are disabled: the maker issues them outside carloop; nothing to do."""

"""The official e-invoice (fapiao) through the maker's tax-control provider, behind one small protocol.

A maker plugs its provider in by implementing :class:`EInvoiceProvider`: ``issue`` a (blue) invoice
for a sales document, ``reverse`` it with a red-letter invoice for a refund. Both take our request
number, which the provider must treat as an idempotency key (a retried request is the same invoice).
:class:`StandInProvider` plays the provider in development and tests; production refuses it
(``Settings``), and ``einvoice_provider=disabled`` says the maker issues e-invoices offline.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from carloop.settings import Settings


@dataclass(frozen=True, slots=True)
class InvoiceRequest:
    """What an e-invoice states: the seller's document, the buyer, the car and the money (fen)."""

    request_no: str
    document_number: str
    buyer_name: str
    vin: str
    description: str
    total_fen: int  # VAT included; negative for a red-letter reversal
    tax_fen: int
    reverses: str = ""  # the blue invoice number a red-letter invoice reverses


@dataclass(frozen=True, slots=True)
class IssuedInvoice:
    """The provider's answer: the invoice number and where the buyer can fetch it."""

    invoice_no: str
    url: str


class EInvoiceProvider(Protocol):
    """A tax-control e-invoice provider."""

    name: str

    def issue(self, request: InvoiceRequest) -> IssuedInvoice:
        """Issue a blue invoice for a sale (the same request number returns the same invoice)."""

    def reverse(self, request: InvoiceRequest) -> IssuedInvoice:
        """Issue the red-letter invoice that reverses ``request.reverses`` by ``request.total_fen``."""


class StandInProvider:
    """A local stand-in: invoice numbers derived from the request number, nothing sent anywhere."""

    name = "standin"

    def _answer(self, request: InvoiceRequest, prefix: str) -> IssuedInvoice:
        digest = int(hashlib.sha256(request.request_no.encode()).hexdigest()[:12], 16) % 10**12
        return IssuedInvoice(invoice_no=f"{prefix}{digest:012d}", url="")

    def issue(self, request: InvoiceRequest) -> IssuedInvoice:
        """A blue invoice number (the same for the same request number)."""
        if request.total_fen <= 0:
            raise ValueError("a blue invoice states a positive amount")
        return self._answer(request, "SI")

    def reverse(self, request: InvoiceRequest) -> IssuedInvoice:
        """A red-letter invoice number (the same for the same request number)."""
        if request.total_fen >= 0 or not request.reverses:
            raise ValueError("a red-letter invoice reverses a blue one by a negative amount")
        return self._answer(request, "SR")


def build_einvoicer(settings: Settings) -> EInvoiceProvider | None:
    """The configured provider; None when e-invoices are issued by the maker offline."""
    if settings.effective_einvoice_provider == "disabled":
        return None
    return StandInProvider()

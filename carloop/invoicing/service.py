"""Invoicing use cases: the sales document of a delivered order, what a receipt shows, and e-invoices.

The sales document is numbered like receipts (``receipts.service.allocate``, series ``S``) in the
transaction that writes it, once per order. E-invoices go through the configured
:class:`~carloop.invoicing.fapiao.EInvoiceProvider`, keyed by a request number derived from the
document (and the refund receipt, for a red-letter reversal), so a retried request is one invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Principal
from carloop.audit import service as audit
from carloop.clock import utcnow
from carloop.errors import NotFound, PolicyViolation
from carloop.invoicing import rules
from carloop.invoicing.fapiao import EInvoiceProvider, InvoiceRequest, IssuedInvoice
from carloop.invoicing.models import EInvoice, EInvoiceKind, SalesDocument
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.payments import service as payments
from carloop.payments.models import Payment
from carloop.receipts import rules as numbering
from carloop.receipts import service as receipts
from carloop.receipts.models import Receipt, ReceiptKind


def issue_sales_document(
    *, session: Session, order_number: str, vin: str | None = None, now: datetime | None = None
) -> SalesDocument:
    """The numbered sales document of a delivered order, written once (again: the first one)."""
    order = ordering.load(session=session, number=order_number)
    existing = session.scalar(select(SalesDocument).where(SalesDocument.order_id == order.id))
    if existing is not None:
        return existing
    if order.status is not OrderStatus.DELIVERED:
        raise PolicyViolation(f"Order {order.number} is not delivered; it has no sales document yet.")
    now = now or utcnow()
    year = numbering.year_of(now)
    (seq,) = receipts.allocate(session=session, series=numbering.SALES_SERIES, year=year)
    lines = list(order.quote.get("lines", []))
    money = rules.breakdown(lines, order.total_fen, order.deposit_fen)
    buyer = accounts.get_customer(session=session, customer_id=order.customer_id)
    document = SalesDocument(
        number=numbering.document_number(numbering.SALES_SERIES, year, seq),
        year=year,
        seq=seq,
        order_id=order.id,
        customer_id=order.customer_id,
        buyer_name=buyer.display_name[:60],
        vin=(vin or "")[:17],
        model=order.model,
        trim=order.trim,
        vehicle_fen=money.vehicle_fen,
        options_fen=money.options_fen,
        total_fen=money.total_fen,
        deposit_fen=money.deposit_fen,
        balance_fen=money.balance_fen,
        tax_fen=money.tax_fen,
        lines=lines,
        issued_at=now,
    )
    session.add(document)
    session.flush()
    return document


def sales_document_of(*, session: Session, order_id: int) -> SalesDocument | None:
    """The sales document of an order (None before delivery)."""
    return session.scalar(select(SalesDocument).where(SalesDocument.order_id == order_id))


@dataclass(frozen=True, slots=True)
class ReceiptView:
    """Everything a receipt shows: the receipt, whom it is for and what the money was."""

    receipt: Receipt
    order_number: str
    payer_name: str
    purpose: str  # deposit | balance | shop
    provider: str
    trade_no: str
    refund_no: str  # "" for a payment receipt


def receipt_views(
    *, session: Session, order_id: int, order_number: str, payer_name: str, only: str | None = None
) -> list[ReceiptView]:
    """A car order's receipts (or just the one numbered ``only``) with their payments and refunds."""
    found = receipts.receipts_for_order(session=session, order_id=order_id)
    paid = payments.payments_for_order(session=session, order_id=order_id)
    return _views(found, paid, order_number, payer_name, only)


def payment_receipt_views(
    *, session: Session, paid: list[Payment], order_number: str, payer_name: str, only: str | None = None
) -> list[ReceiptView]:
    """The receipts of the given payments and their refunds (a shop order's), in number order."""
    keys = [f"payment:{p.trade_no}" for p in paid] + [
        f"refund:{r.refund_no}" for p in paid for r in p.refunds
    ]
    found = receipts.receipts_for_keys(session=session, keys=keys)
    return _views(found, paid, order_number, payer_name, only)


def _views(
    found: list[Receipt], paid: list[Payment], order_number: str, payer_name: str, only: str | None
) -> list[ReceiptView]:
    by_trade_no = {p.trade_no: p for p in paid}
    by_refund_no = {r.refund_no: p for p in paid for r in p.refunds}
    views = []
    for receipt in found:
        if only is not None and receipt.number != only:
            continue
        refund_no = receipt.reference if receipt.kind is ReceiptKind.REFUND else ""
        payment = by_refund_no.get(refund_no) if refund_no else by_trade_no.get(receipt.reference)
        views.append(
            ReceiptView(
                receipt=receipt,
                order_number=order_number,
                payer_name=payer_name,
                purpose=str(payment.purpose) if payment is not None else "",
                provider=payment.provider if payment is not None else "",
                trade_no=payment.trade_no if payment is not None else "",
                refund_no=refund_no,
            )
        )
    return views


def receipt_view(
    *, session: Session, order_id: int, order_number: str, payer_name: str, number: str
) -> ReceiptView:
    """One receipt of an order; another order's (or no such) receipt is not found."""
    found = receipt_views(
        session=session, order_id=order_id, order_number=order_number, payer_name=payer_name, only=number
    )
    if not found:
        raise NotFound(f"No receipt {number}.")
    return found[0]


def einvoices_of(*, session: Session, document_number: str) -> list[EInvoice]:
    """The e-invoices issued for a sales document (the blue one, then any red-letter reversals)."""
    query = select(EInvoice).where(EInvoice.document_number == document_number).order_by(EInvoice.id)
    return list(session.scalars(query))


def issue_einvoice(
    *,
    session: Session,
    provider: EInvoiceProvider,
    document: SalesDocument,
    order_number: str,
    principal: Principal | None,
) -> EInvoice:
    """Issue the (blue) e-invoice of a sales document once, audited (``principal=None``: the system,
    on delivery); again: the first one."""
    request_no = f"{document.number}-B"
    existing = session.scalar(select(EInvoice).where(EInvoice.request_no == request_no))
    if existing is not None:
        return existing
    answer = provider.issue(
        InvoiceRequest(
            request_no=request_no,
            document_number=document.number,
            buyer_name=document.buyer_name,
            vin=document.vin,
            description=f"{document.model} {document.trim}",
            total_fen=document.total_fen,
            tax_fen=document.tax_fen,
        )
    )
    at = _Issue(document, order_number, request_no, EInvoiceKind.BLUE, provider.name, document.total_fen)
    return _record(session, principal, at, answer)


def reverse_einvoice(
    *,
    session: Session,
    provider: EInvoiceProvider,
    document: SalesDocument,
    refund_number: str,
    order_number: str,
    principal: Principal,
) -> EInvoice:
    """Reverse the document's e-invoice by a refund's amount with a red-letter invoice, once per refund."""
    refund = receipts.get_receipt(session=session, number=refund_number)
    if refund is None or refund.kind is not ReceiptKind.REFUND or refund.order_id != document.order_id:
        raise NotFound(f"No refund receipt {refund_number} for this order.")
    request_no = f"{document.number}-R-{refund.number}"
    existing = session.scalar(select(EInvoice).where(EInvoice.request_no == request_no))
    if existing is not None:
        return existing
    blue = session.scalar(select(EInvoice).where(EInvoice.request_no == f"{document.number}-B"))
    if blue is None:
        raise PolicyViolation(f"Sales document {document.number} has no e-invoice to reverse.")
    amount = min(refund.amount_fen, document.total_fen)
    answer = provider.reverse(
        InvoiceRequest(
            request_no=request_no,
            document_number=document.number,
            buyer_name=document.buyer_name,
            vin=document.vin,
            description=f"{document.model} {document.trim}",
            total_fen=-amount,
            tax_fen=-numbering.vat_included(amount),
            reverses=blue.invoice_no,
        )
    )
    at = _Issue(document, order_number, request_no, EInvoiceKind.RED, provider.name, -amount)
    return _record(session, principal, at, answer)


@dataclass(frozen=True, slots=True)
class _Issue:
    document: SalesDocument
    order_number: str
    request_no: str
    kind: EInvoiceKind
    provider: str
    amount_fen: int


def _record(session: Session, principal: Principal | None, at: _Issue, answer: IssuedInvoice) -> EInvoice:
    invoice = EInvoice(
        request_no=at.request_no,
        document_number=at.document.number,
        kind=at.kind,
        provider=at.provider[:20],
        invoice_no=answer.invoice_no[:40],
        url=answer.url[:500],
        amount_fen=at.amount_fen,
    )
    session.add(invoice)
    session.flush()
    audit.record(
        session=session,
        principal=principal,
        action=f"einvoice.{at.kind}",
        target_type="order",
        target_id=at.order_number,
        detail={
            "document": at.document.number,
            "invoice_no": invoice.invoice_no,
            "amount_fen": at.amount_fen,
        },
    )
    return invoice


@dataclass(frozen=True, slots=True)
class OrderDocuments:
    """An order's receipts, its sales document (after delivery) and that document's e-invoices."""

    receipts: list[ReceiptView]
    sales: SalesDocument | None
    einvoices: list[EInvoice]
    einvoice_offline: bool  # the maker issues e-invoices outside carloop

    @property
    def blue(self) -> EInvoice | None:
        """The document's e-invoice, once issued."""
        return next((e for e in self.einvoices if e.kind is EInvoiceKind.BLUE), None)

    def reversal_of(self, receipt_number: str) -> EInvoice | None:
        """The red-letter invoice issued for a refund receipt, if any."""
        return next((e for e in self.einvoices if e.request_no.endswith(f"-R-{receipt_number}")), None)


def documents_for(*, session: Session, order: Order, einvoice_offline: bool) -> OrderDocuments:
    """Everything the order pages list for download."""
    buyer = accounts.get_customer(session=session, customer_id=order.customer_id)
    sales = sales_document_of(session=session, order_id=order.id)
    return OrderDocuments(
        receipts=receipt_views(
            session=session, order_id=order.id, order_number=order.number, payer_name=buyer.display_name
        ),
        sales=sales,
        einvoices=einvoices_of(session=session, document_number=sales.number) if sales else [],
        einvoice_offline=einvoice_offline,
    )

"""Receipt and sales-document downloads (PDF) for the buyer and for staff, and staff e-invoice actions.

The buyer gets only their own order's documents (anyone else's is not found, as the order is);
staff get the orders their role and store let them see, every download and e-invoice action audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Principal
from carloop.audit import service as audit
from carloop.errors import NotFound, PolicyViolation
from carloop.invoicing import pdf, service
from carloop.invoicing.fapiao import EInvoiceProvider
from carloop.loyalty import shop
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.web.deps import CurrentCustomer, CurrentStaff, DbSession, FormStaff
from carloop.web.i18n import translations

router = APIRouter()


def _pdf(content: bytes, name: str) -> Response:
    return Response(
        content=content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"', "Cache-Control": "private"},
    )


def _receipt(request: Request, session: Session, order: Order, number: str) -> Response:
    buyer = accounts.get_customer(session=session, customer_id=order.customer_id)
    view = service.receipt_view(
        session=session,
        order_id=order.id,
        order_number=order.number,
        payer_name=buyer.display_name,
        number=number.removesuffix(".pdf"),
    )
    locale = request.state.locale
    body = pdf.receipt_pdf(
        view, locale=locale, gettext=translations(locale).gettext, letterhead=_letterhead(request)
    )
    return _pdf(body, view.receipt.number)


def _letterhead(request: Request) -> pdf.Letterhead:
    return pdf.Letterhead.from_settings(request.app.state.settings)


def _einvoice_line(request: Request, documents: service.OrderDocuments) -> str:
    gettext = translations(request.state.locale).gettext
    if documents.einvoice_offline:
        return gettext("The official e-invoice (fapiao) is issued by the maker offline.")
    if documents.blue is None:
        return gettext("The official e-invoice (fapiao) has not been issued yet.")
    return gettext("Official e-invoice (fapiao) number:") + " " + documents.blue.invoice_no


def _sales_document(request: Request, session: Session, order: Order) -> Response:
    documents = service.documents_for(session=session, order=order, einvoice_offline=_offline(request))
    if documents.sales is None:
        raise NotFound(f"Order {order.number} has no sales document yet.")
    locale = request.state.locale
    body = pdf.sales_document_pdf(
        documents.sales,
        order_number=order.number,
        einvoice=_einvoice_line(request, documents),
        locale=locale,
        gettext=translations(locale).gettext,
        letterhead=_letterhead(request),
    )
    return _pdf(body, documents.sales.number)


def _offline(request: Request) -> bool:
    return _einvoicer(request) is None


def _einvoicer(request: Request) -> EInvoiceProvider | None:
    provider: EInvoiceProvider | None = request.app.state.einvoicer
    return provider


@router.get("/orders/{number}/receipts/{receipt}")
def buyer_receipt(
    number: str, receipt: str, request: Request, session: DbSession, me: CurrentCustomer
) -> Response:
    """One receipt of the buyer's own order, as a PDF."""
    order = ordering.get_for(session=session, principal=me, number=number)
    return _receipt(request, session, order, receipt)


@router.get("/shop/orders/{number}/receipts/{receipt}")
def shop_receipt(
    number: str, receipt: str, request: Request, session: DbSession, me: CurrentCustomer
) -> Response:
    """One receipt of the buyer's own shop order, as a PDF (anyone else's order is not found)."""
    assert me.customer_id is not None  # require_customer guarantees it
    order = shop.get_order(session=session, number=number, customer_id=me.customer_id)
    buyer = accounts.get_customer(session=session, customer_id=me.customer_id)
    wanted = receipt.removesuffix(".pdf")
    found = service.payment_receipt_views(
        session=session,
        paid=shop.payments_of(session=session, order=order),
        order_number=order.number,
        payer_name=buyer.display_name,
        only=wanted,
    )
    if not found:
        raise NotFound(f"No receipt {wanted}.")
    locale = request.state.locale
    body = pdf.receipt_pdf(
        found[0], locale=locale, gettext=translations(locale).gettext, letterhead=_letterhead(request)
    )
    return _pdf(body, wanted)


@router.get("/orders/{number}/sales-document.pdf")
def buyer_sales_document(number: str, request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """The sales document of the buyer's own delivered car, as a PDF."""
    order = ordering.get_for(session=session, principal=me, number=number)
    return _sales_document(request, session, order)


def _staff_order(
    session: Session, staff: Principal, number: str, action: str, detail: dict[str, str]
) -> Order:
    order = ordering.get_for(session=session, principal=staff, number=number)
    audit.record(
        session=session,
        principal=staff,
        action=action,
        target_type="order",
        target_id=order.number,
        detail=detail,
    )
    return order


@router.get("/staff/orders/{number}/receipts/{receipt}")
def staff_receipt(
    number: str, receipt: str, request: Request, session: DbSession, staff: CurrentStaff
) -> Response:
    """One receipt of an order the staff member may see, as a PDF (audited)."""
    order = _staff_order(session, staff, number, "receipt.download", {"receipt": receipt})
    return _receipt(request, session, order, receipt)


@router.get("/staff/orders/{number}/sales-document.pdf")
def staff_sales_document(number: str, request: Request, session: DbSession, staff: CurrentStaff) -> Response:
    """The sales document of an order the staff member may see, as a PDF (audited)."""
    order = _staff_order(session, staff, number, "sales_document.download", {})
    return _sales_document(request, session, order)


@router.post("/staff/orders/{number}/einvoice")
def issue_einvoice(
    number: str,
    request: Request,
    session: DbSession,
    staff: FormStaff,
    refund: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Issue the delivered order's e-invoice, or (``refund`` given) its red-letter reversal for it."""
    order = ordering.get_for(session=session, principal=staff, number=number)
    provider = _einvoicer(request)
    if provider is None:
        raise PolicyViolation("E-invoices are issued by the maker offline; carloop does not issue them.")
    document = service.sales_document_of(session=session, order_id=order.id)
    if document is None:
        raise NotFound(f"Order {order.number} has no sales document yet.")
    if refund:
        service.reverse_einvoice(
            session=session,
            provider=provider,
            document=document,
            refund_number=refund,
            order_number=order.number,
            principal=staff,
        )
    else:
        service.issue_einvoice(
            session=session, provider=provider, document=document, order_number=order.number, principal=staff
        )
    return RedirectResponse(f"/staff/orders/{order.number}#documents", status_code=303)

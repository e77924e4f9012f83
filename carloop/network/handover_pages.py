"""Final payment and handover pages: the buyer pays the balance in parts through the provider's page;
the delivery centre's staff record till payments and complete the handover checklist.

Staff of any other store get 404 for the order, as in the API; every form carries the session's
anti-forgery token.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal
from carloop.errors import PolicyViolation
from carloop.money import yuan
from carloop.network import handover, service
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.payments import service as payments
from carloop.payments.providers.base import PaymentProvider
from carloop.web.deps import (
    CurrentCustomer,
    DbSession,
    FormCustomer,
    FormStaff,
    public_base_url,
    require_staff,
)

router = APIRouter()


StaffPage = Annotated[Principal, Depends(require_staff)]


def amount_fen(text: str) -> int:
    """Yuan typed in a form (``12,000.50``) as fen; ``PolicyViolation`` if it is not a positive amount."""
    cleaned = text.strip().replace(",", "").replace("¥", "").replace("，", "")
    try:
        value = Decimal(cleaned)
        exact = value.is_finite() and value == value.quantize(Decimal("0.01"))
    except InvalidOperation:  # not a number, or more digits than any amount has (1e400)
        raise PolicyViolation("Type the amount in yuan, e.g. 12000.50.") from None
    if not exact or value <= 0:
        raise PolicyViolation("Type the amount in yuan, e.g. 12000.50.")
    return yuan(value)


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


def _money(session: Session, order: Order) -> dict[str, Any]:
    return {
        "order": order,
        "balance": handover.balance(session=session, order=order),
        "payments": payments.payments_for_order(session=session, order_id=order.id),
        "open": order.status in handover.BALANCE_OPEN,
    }


def _balance_page(
    request: Request, session: Session, me: Principal, number: str, error: str = "", status: int = 200
) -> Response:
    order = ordering.get_for(session=session, principal=me, number=number)
    return _render(request, "network/balance.html", {**_money(session, order), "error": error}, status)


@router.get("/orders/{number}/balance")
def balance_page(number: str, request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """What the car costs, what is paid, what is due, and a form to pay any part of it online."""
    return _balance_page(request, session, me, number)


@router.post("/orders/{number}/balance")
def pay_balance(
    number: str,
    request: Request,
    session: DbSession,
    me: FormCustomer,
    amount: Annotated[str, Form(max_length=20)],
) -> Response:
    """Start an online payment of the amount typed and go to the provider's page to pay it."""
    try:
        with session.begin_nested():
            payment = handover.start_balance_payment(
                session=session,
                provider=_provider(request),
                principal=me,
                number=number,
                amount_fen=amount_fen(amount),
                base_url=public_base_url(request),
            )
    except PolicyViolation as err:
        return _balance_page(request, session, me, number, err.message, 422)
    return RedirectResponse(payment.pay_url, status_code=303)


def _provider(request: Request) -> PaymentProvider:
    provider: PaymentProvider = request.app.state.payment_provider
    return provider


def _handover_page(
    request: Request,
    session: Session,
    staff: Principal,
    number: str,
    error: str = "",
    status: int = 200,
) -> Response:
    order = handover.staff_order(session, staff, number, for_update=False)
    store = service.get_store(session=session, store_id=order.delivery_store_id or 0)
    return _render(
        request,
        "network/handover.html",
        {
            **_money(session, order),
            "store": store,
            "error": error,
            "done": order.status is OrderStatus.DELIVERED,
        },
        status,
    )


@router.get("/staff/orders/{number}/handover")
def handover_page(number: str, request: Request, session: DbSession, staff: StaffPage) -> Response:
    """The centre's page for one order: balance and payments, the till form, and the handover checklist."""
    order = handover.staff_order(session, staff, number, for_update=False)
    handover.record_staff_view(session=session, principal=staff, order=order, what="handover")
    return _handover_page(request, session, staff, number)


@router.post("/staff/orders/{number}/payments")
def record_payment(
    number: str,
    request: Request,
    session: DbSession,
    staff: FormStaff,
    amount: Annotated[str, Form(max_length=20)],
    reference: Annotated[str, Form(max_length=80)],
) -> Response:
    """Record money taken at the store's till (once per till reference; audited; in the ledger)."""
    try:
        with session.begin_nested():
            handover.record_store_payment(
                session=session,
                principal=staff,
                number=number,
                amount_fen=amount_fen(amount),
                reference=reference,
            )
    except PolicyViolation as err:
        return _handover_page(request, session, staff, number, err.message, 422)
    return RedirectResponse(f"/staff/orders/{number}/handover", status_code=303)


@router.post("/staff/orders/{number}/handover")
def complete_handover(
    number: str,
    request: Request,
    session: DbSession,
    staff: FormStaff,
    vin: Annotated[str, Form(max_length=40)],
    inspection_passed: Annotated[bool, Form()] = False,
    documents_signed: Annotated[bool, Form()] = False,
) -> Response:
    """Tick the checklist: the VIN on the car matches, inspection done, documents signed → delivered."""
    try:
        with session.begin_nested():
            handover.hand_over(
                provider=_provider(request),
                session=session,
                principal=staff,
                number=number,
                vin=vin,
                inspection_passed=inspection_passed,
                documents_signed=documents_signed,
            )
    except PolicyViolation as err:
        return _handover_page(request, session, staff, number, err.message, 422)
    return RedirectResponse(f"/staff/orders/{number}/handover", status_code=303)

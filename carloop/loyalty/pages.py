"""Owner pages: "me" (points, contribution, history, check-in), the shop (points and/or cash), orders."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import Field

from carloop.errors import CapacityExhausted, Conflict, NotFound, PolicyViolation
from carloop.invoicing import service as invoicing
from carloop.loyalty import meetups_pages, service, shop
from carloop.loyalty.api import pay_url, pending_payment, provider_of
from carloop.loyalty.rules import EARN_RULES, EarnReason
from carloop.web.deps import CurrentCustomer, DbSession, FormCustomer

router = APIRouter()
router.include_router(meetups_pages.router)


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


@router.get("/me")
def me_page(request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """My points, contribution score and their history."""
    cid = me.customer_id
    assert cid is not None
    return _render(
        request,
        "loyalty/me.html",
        {
            "balance": service.balance(session=session, customer_id=cid),
            "contribution": service.contribution_score(session=session, customer_id=cid),
            "expiring": service.expiring_soon(session=session, customer_id=cid),
            "history": service.history(session=session, customer_id=cid, limit=50),
        },
    )


def _referral_context(session: DbSession, customer_id: int, error: str = "") -> dict[str, Any]:
    return {
        "code": service.referral_code(session=session, customer_id=customer_id).code,
        "referred": len(service.referrals_made(session=session, customer_id=customer_id)),
        "referrer": service.referrer_of(session=session, customer_id=customer_id),
        "points_each": EARN_RULES[EarnReason.REFERRAL].points,
        "error": error,
    }


@router.get("/me/referral")
def referral_page(request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """My referral code, the owners I referred, and where to enter the code of whoever referred me."""
    assert me.customer_id is not None
    return _render(request, "loyalty/referral.html", _referral_context(session, me.customer_id))


@router.post("/me/referral")
def claim_referral(
    request: Request,
    session: DbSession,
    me: FormCustomer,
    code: Annotated[str, Form(min_length=4, max_length=16, pattern=r"^[A-Za-z0-9]+$")],
) -> Response:
    """Record who referred me by their code; a refusal shows on the page."""
    assert me.customer_id is not None
    try:
        with session.begin_nested():
            service.claim_referral(session=session, referee_id=me.customer_id, code=code)
    except (PolicyViolation, Conflict, NotFound) as err:
        context = _referral_context(session, me.customer_id, error=err.message)
        return _render(request, "loyalty/referral.html", context, status_code=409)
    return RedirectResponse("/me/referral", status_code=303)


@router.post("/me/checkin")
def checkin(session: DbSession, me: FormCustomer) -> Response:
    """Today's check-in, then back to "me"."""
    assert me.customer_id is not None
    service.daily_checkin(session=session, customer_id=me.customer_id)
    return RedirectResponse("/me", status_code=303)


def _shop_page(
    request: Request, session: DbSession, customer_id: int, error: str = "", status_code: int = 200
) -> Response:
    return _render(
        request,
        "loyalty/shop.html",
        {
            "products": shop.list_products(session=session),
            "balance": service.balance(session=session, customer_id=customer_id),
            "form_key": uuid.uuid4().hex,
            "error": error,
        },
        status_code,
    )


@router.get("/shop")
def shop_page(request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """Products with stock and a points price; choose quantities and check out."""
    assert me.customer_id is not None
    return _shop_page(request, session, me.customer_id)


@router.post("/shop/checkout")
def checkout(
    request: Request,
    session: DbSession,
    me: FormCustomer,
    form_key: Annotated[str, Form(min_length=8, max_length=64, pattern=r"^[\w-]+$")],
    sku: Annotated[list[str] | None, Form(max_length=40)] = None,
    quantity: Annotated[list[Annotated[int, Field(ge=0, le=99)]] | None, Form()] = None,
    pay_with: Annotated[Literal["points", "cash", "mixed"], Form()] = "points",
    points: Annotated[int | None, Form(ge=0, le=100_000_000)] = None,
) -> Response:
    """Buy the chosen quantities with points, cash or both; a double submit lands on the same order."""
    assert me.customer_id is not None
    skus, counts = sku or [], quantity or []
    wanted: dict[str, int] = {}
    for code, count in zip(skus, counts, strict=False):
        if count:
            wanted[code] = wanted.get(code, 0) + count
    use = {"points": None, "cash": 0, "mixed": points or 0}[pay_with]
    try:
        with session.begin_nested():  # a refusal undoes any stock taken, and the page still renders
            order = shop.checkout(
                session=session, customer_id=me.customer_id, quantities=wanted, key=form_key, points=use
            )
    except (PolicyViolation, CapacityExhausted, NotFound) as err:
        return _shop_page(request, session, me.customer_id, error=err.message, status_code=409)
    payment = pending_payment(session, request, order)
    if payment is not None:
        return RedirectResponse(pay_url(provider_of(request), payment), status_code=303)
    return RedirectResponse(f"/shop/orders?placed={order.number}", status_code=303)


@router.get("/shop/orders")
def orders_page(
    request: Request,
    session: DbSession,
    me: CurrentCustomer,
    placed: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """My shop orders (with a link to pay those still awaiting their cash part)."""
    assert me.customer_id is not None
    orders = shop.orders_for(session=session, customer_id=me.customer_id)
    pay_links = {}
    for order in orders:
        payment = pending_payment(session, request, order)
        if payment is not None:
            pay_links[order.number] = pay_url(provider_of(request), payment)
    placed_order = next((o for o in orders if o.number == placed), None)
    receipts = {
        o.number: invoicing.payment_receipt_views(
            session=session,
            paid=shop.payments_of(session=session, order=o),
            order_number=o.number,
            payer_name="",
        )
        for o in orders
        if o.cash_fen
    }
    return _render(
        request,
        "loyalty/orders.html",
        {"orders": orders, "placed": placed_order, "pay_links": pay_links, "receipts": receipts},
    )


@router.post("/shop/orders/{number}/cancel")
def cancel_page(number: str, session: DbSession, me: FormCustomer) -> Response:
    """Give up an order still awaiting its cash part: points and stock come back."""
    assert me.customer_id is not None
    order = shop.get_order(session=session, number=number, customer_id=me.customer_id)
    shop.cancel_unpaid(session=session, order=order)
    return RedirectResponse("/shop/orders", status_code=303)

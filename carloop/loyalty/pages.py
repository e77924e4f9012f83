"""Owner pages: "me" (points, contribution, history, check-in), the shop, shop orders."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from carloop.errors import CapacityExhausted, NotFound, PolicyViolation
from carloop.loyalty import service, shop
from carloop.web.deps import CurrentCustomer, DbSession, FormCustomer

router = APIRouter()


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
    quantity: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Buy the chosen quantities with points; a double submit lands on the same order."""
    assert me.customer_id is not None
    skus, counts = sku or [], quantity or []
    wanted: dict[str, int] = {}
    for code, count in zip(skus, counts, strict=False):
        if count:
            wanted[code] = wanted.get(code, 0) + count
    try:
        with session.begin_nested():  # a refusal undoes any stock taken, and the page still renders
            order = shop.checkout(
                session=session, customer_id=me.customer_id, quantities=wanted, key=form_key
            )
    except (PolicyViolation, CapacityExhausted, NotFound) as err:
        return _shop_page(request, session, me.customer_id, error=err.message, status_code=409)
    return RedirectResponse(f"/shop/orders?placed={order.number}", status_code=303)


@router.get("/shop/orders")
def orders_page(
    request: Request,
    session: DbSession,
    me: CurrentCustomer,
    placed: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """My shop orders."""
    assert me.customer_id is not None
    return _render(
        request,
        "loyalty/orders.html",
        {"orders": shop.orders_for(session=session, customer_id=me.customer_id), "placed": placed},
    )

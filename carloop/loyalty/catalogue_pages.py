"""HQ's shop catalogue page: products, prices, on sale or not, and stock moved in or out with a reason."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from carloop.accounts.schemas import Principal, Role
from carloop.errors import DomainError, PermissionDenied
from carloop.loyalty import catalogue
from carloop.web.deps import DbSession, FormStaff, require_roles

router = APIRouter()
ShopStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]
Sku = Annotated[str, Form(min_length=2, max_length=40, pattern=r"^[A-Z0-9][A-Z0-9-]*$")]


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _page(request: Request, session: Any, error: str | None = None, status: int = 200) -> Response:
    context = {"products": catalogue.all_products(session=session), "error": error}
    return request.app.state.renderer.render(request, "loyalty/catalogue.html", context, status_code=status)


def _hq(staff: Principal) -> None:
    if staff.role not in (Role.HQ_OPS, Role.ADMIN):
        raise PermissionDenied("This needs one of the roles: hq_ops, admin.")


@router.get("/staff/shop")
def catalogue_page(request: Request, session: DbSession, staff: ShopStaff) -> Response:
    """Every product with its prices, stock and whether it is on sale."""
    return _page(request, session)


@router.post("/staff/shop/products")
def save_product(
    request: Request,
    session: DbSession,
    staff: FormStaff,
    sku: Sku,
    name_zh: Annotated[str, Form(max_length=120)],
    name_en: Annotated[str, Form(max_length=120)],
    price_points: Annotated[int, Form(ge=0, le=catalogue.MAX_POINTS)],
    price_yuan: Annotated[int, Form(ge=0, le=catalogue.MAX_PRICE_FEN // 100)] = 0,
    active: Annotated[bool, Form()] = False,
) -> Response:
    """Create or change a product (HQ only)."""
    _hq(staff)
    try:
        with session.begin_nested():
            catalogue.save_product(
                session=session,
                principal=staff,
                sku=sku,
                name_zh=name_zh,
                name_en=name_en,
                price_points=price_points,
                price_fen=price_yuan * 100,
                active=active,
                ip=_ip(request),
            )
    except DomainError as err:
        return _page(request, session, err.message, 422)
    return RedirectResponse("/staff/shop", status_code=303)


@router.post("/staff/shop/products/{sku}/stock")
def adjust_stock(
    sku: str,
    request: Request,
    session: DbSession,
    staff: FormStaff,
    delta: Annotated[int, Form(ge=-catalogue.MAX_STOCK_MOVE, le=catalogue.MAX_STOCK_MOVE)],
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Move stock in or out with a reason (HQ only; never below zero)."""
    _hq(staff)
    try:
        with session.begin_nested():
            catalogue.adjust_stock(
                session=session, principal=staff, sku=sku, delta=delta, reason=reason, ip=_ip(request)
            )
    except DomainError as err:
        if err.code == "not-found":
            raise
        return _page(request, session, err.message, 422)
    return RedirectResponse("/staff/shop", status_code=303)

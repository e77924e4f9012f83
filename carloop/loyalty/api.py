"""Points and shop API: my points, check-in, staff compensation, products, checkout, refunds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.loyalty import events_api, service, shop
from carloop.loyalty.models import ShopOrder
from carloop.loyalty.schemas import (
    CheckoutCreate,
    CompensationCreate,
    PointsEntryRead,
    PointsRead,
    ProductRead,
    RefundCreate,
    ShopLineRead,
    ShopOrderRead,
)
from carloop.web.deps import CurrentCustomer, CurrentPrincipal, DbSession, require_roles

router = APIRouter(tags=["loyalty"])
router.include_router(events_api.router)
PointsStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]


def _customer(principal: Principal) -> int:
    assert principal.customer_id is not None  # require_customer guarantees it
    return principal.customer_id


def points_read(session: DbSession, customer_id: int) -> PointsRead:
    """The API shape of an owner's points."""
    return PointsRead(
        balance=service.balance(session=session, customer_id=customer_id),
        contribution_score=service.contribution_score(session=session, customer_id=customer_id),
        expiring_within_90_days=service.expiring_soon(session=session, customer_id=customer_id),
        history=[
            PointsEntryRead(
                kind=e.kind,
                reason=e.reason,
                points=e.points,
                memo=e.memo,
                created_at=e.created_at,
                expires_at=e.expires_at,
            )
            for e in service.history(session=session, customer_id=customer_id)
        ],
    )


def order_read(order: ShopOrder) -> ShopOrderRead:
    """The API shape of a shop order."""
    return ShopOrderRead(
        number=order.number,
        status=str(order.status),
        points_total=order.points_total,
        created_at=order.created_at,
        refunded_at=order.refunded_at,
        lines=[
            ShopLineRead(
                sku=ln.product.sku,
                name_zh=ln.product.name_zh,
                name_en=ln.product.name_en,
                quantity=ln.quantity,
                points_each=ln.points_each,
            )
            for ln in order.lines
        ],
    )


@router.get("/points/me")
def my_points(session: DbSession, me: CurrentCustomer) -> PointsRead:
    """My spendable points, contribution score and history."""
    return points_read(session, _customer(me))


@router.post("/points/me/checkin")
def check_in(session: DbSession, me: CurrentCustomer) -> PointsRead:
    """Today's check-in (once per day; a second call earns nothing)."""
    service.daily_checkin(session=session, customer_id=_customer(me))
    return points_read(session, _customer(me))


@router.post("/staff/points/compensations", status_code=201)
def compensate(session: DbSession, staff: PointsStaff, body: CompensationCreate) -> PointsEntryRead:
    """Grant an owner points with a reason (audited; the same key grants once)."""
    entry = service.grant_compensation(
        session=session,
        principal=staff,
        customer_id=body.customer_id,
        points=body.points,
        reason=body.reason,
        key=body.key,
    )
    return PointsEntryRead(
        kind=entry.kind,
        reason=entry.reason,
        points=entry.points,
        memo=entry.memo,
        created_at=entry.created_at,
        expires_at=entry.expires_at,
    )


@router.get("/shop/products")
def products(session: DbSession, _: CurrentPrincipal) -> list[ProductRead]:
    """Products on sale with their stock."""
    return [
        ProductRead(
            sku=p.sku, name_zh=p.name_zh, name_en=p.name_en, price_points=p.price_points, stock=p.stock
        )
        for p in shop.list_products(session=session)
    ]


@router.post("/shop/orders", status_code=201)
def checkout(
    session: DbSession,
    me: CurrentCustomer,
    body: CheckoutCreate,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", max_length=64, pattern=r"^[\w-]+$")
    ] = None,
) -> ShopOrderRead:
    """Buy a cart with points; the same Idempotency-Key buys once."""
    quantities: dict[str, int] = {}
    for item in body.items:
        quantities[item.sku] = quantities.get(item.sku, 0) + item.quantity
    order = shop.checkout(
        session=session, customer_id=_customer(me), quantities=quantities, key=idempotency_key
    )
    return order_read(order)


@router.get("/shop/orders")
def my_orders(session: DbSession, me: CurrentCustomer) -> list[ShopOrderRead]:
    """My shop orders, newest first."""
    return [order_read(o) for o in shop.orders_for(session=session, customer_id=_customer(me))]


@router.post("/staff/shop/orders/{number}/refund")
def refund(session: DbSession, staff: PointsStaff, number: str, body: RefundCreate) -> ShopOrderRead:
    """Refund a shop order: points and stock go back (audited)."""
    order = shop.refund(
        session=session, order=shop.get_order(session=session, number=number), reason=body.reason
    )
    audit.record(
        session=session,
        principal=staff,
        action="shop.refund",
        target_type="shop_order",
        target_id=number,
        detail={"reason": body.reason, "points": order.points_total},
    )
    return order_read(order)

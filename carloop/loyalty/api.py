"""Points and shop API: my points, check-in, compensation, products, checkout (points, cash), refunds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.loyalty import meetups_api, service, shop
from carloop.loyalty.models import ShopOrder, ShopOrderStatus
from carloop.loyalty.rules import EARN_RULES, EarnReason
from carloop.loyalty.schemas import (
    CheckoutCreate,
    CompensationCreate,
    PointsEntryRead,
    PointsRead,
    ProductRead,
    ReferralClaim,
    ReferralRead,
    RefundCreate,
    ShopLineRead,
    ShopOrderRead,
)
from carloop.payments.models import Payment, PaymentStatus
from carloop.payments.providers.base import PaymentProvider
from carloop.web.deps import CurrentCustomer, CurrentPrincipal, DbSession, public_base_url, require_roles

router = APIRouter(tags=["loyalty"])
router.include_router(meetups_api.router)
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


def provider_of(request: Request) -> PaymentProvider:
    """The payment provider the app was built with."""
    provider: PaymentProvider = request.app.state.payment_provider
    return provider


def pay_url(provider: PaymentProvider, payment: Payment) -> str:
    """Where the owner pays: the provider's page (the built-in simulator's is ``/pay/simulator/...``)."""
    del provider
    return payment.pay_url


def pending_payment(session: DbSession, request: Request, order: ShopOrder) -> Payment | None:
    """The payment to pay while the order awaits its cash part (started when needed)."""
    if order.status is not ShopOrderStatus.AWAITING_PAYMENT:
        return None
    payment = shop.start_payment(
        session=session,
        provider=provider_of(request),
        order=order,
        base_url=public_base_url(request),
        return_url=f"{public_base_url(request).rstrip('/')}/shop/orders?placed={order.number}",
    )
    return payment if payment.status is PaymentStatus.PENDING else None


def order_read(order: ShopOrder, *, url: str | None = None) -> ShopOrderRead:
    """The API shape of a shop order."""
    return ShopOrderRead(
        number=order.number,
        status=str(order.status),
        points_total=order.points_total,
        cash_fen=order.cash_fen,
        created_at=order.created_at,
        paid_at=order.paid_at,
        refunded_at=order.refunded_at,
        pay_url=url,
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


def referral_read(session: DbSession, customer_id: int) -> ReferralRead:
    """The API shape of my referral code."""
    return ReferralRead(
        code=service.referral_code(session=session, customer_id=customer_id).code,
        referred=len(service.referrals_made(session=session, customer_id=customer_id)),
        referred_by_me_points_each=EARN_RULES[EarnReason.REFERRAL].points,
    )


@router.get("/referrals/me")
def my_referral(session: DbSession, me: CurrentCustomer) -> ReferralRead:
    """My referral code to hand to friends (points when someone I referred locks an order)."""
    return referral_read(session, _customer(me))


@router.post("/referrals/claim")
def claim_referral(session: DbSession, me: CurrentCustomer, body: ReferralClaim) -> dict[str, bool]:
    """Say who referred me, by their code (not myself; only one referrer)."""
    service.claim_referral(session=session, referee_id=_customer(me), code=body.code)
    return {"recorded": True}


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
            sku=p.sku,
            name_zh=p.name_zh,
            name_en=p.name_en,
            price_points=p.price_points,
            price_fen=p.price_fen,
            stock=p.stock,
        )
        for p in shop.list_products(session=session)
    ]


@router.post("/shop/orders", status_code=201)
def checkout(
    request: Request,
    session: DbSession,
    me: CurrentCustomer,
    body: CheckoutCreate,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", max_length=64, pattern=r"^[\w-]+$")
    ] = None,
) -> ShopOrderRead:
    """Buy a cart with points, cash or both; the same Idempotency-Key buys once.

    When part of the price is due in cash the order is ``awaiting_payment`` and ``pay_url`` is where
    to pay it; the provider's notification to ``/api/v1/payments/notify/{provider}`` marks it paid.
    """
    quantities: dict[str, int] = {}
    for item in body.items:
        quantities[item.sku] = quantities.get(item.sku, 0) + item.quantity
    order = shop.checkout(
        session=session,
        customer_id=_customer(me),
        quantities=quantities,
        key=idempotency_key,
        points=body.points,
    )
    payment = pending_payment(session, request, order)
    return order_read(order, url=pay_url(provider_of(request), payment) if payment else None)


@router.get("/shop/orders")
def my_orders(session: DbSession, me: CurrentCustomer) -> list[ShopOrderRead]:
    """My shop orders, newest first."""
    return [order_read(o) for o in shop.orders_for(session=session, customer_id=_customer(me))]


@router.get("/shop/orders/{number}")
def my_order(request: Request, session: DbSession, me: CurrentCustomer, number: str) -> ShopOrderRead:
    """One of my shop orders (with where to pay it while it awaits payment)."""
    order = shop.get_order(session=session, number=number, customer_id=_customer(me))
    payment = pending_payment(session, request, order)
    return order_read(order, url=pay_url(provider_of(request), payment) if payment else None)


@router.post("/shop/orders/{number}/cancel")
def cancel(session: DbSession, me: CurrentCustomer, number: str) -> ShopOrderRead:
    """Give up one of my orders that still awaits its cash: points and stock come back."""
    order = shop.get_order(session=session, number=number, customer_id=_customer(me))
    return order_read(shop.cancel_unpaid(session=session, order=order))


@router.post("/staff/shop/orders/{number}/refund")
def refund(
    request: Request, session: DbSession, staff: PointsStaff, number: str, body: RefundCreate
) -> ShopOrderRead:
    """Refund a paid shop order: points, cash and stock go back (audited; a repeat changes nothing)."""
    order = shop.refund(
        session=session,
        order=shop.get_order(session=session, number=number),
        reason=body.reason,
        provider=provider_of(request),
    )
    audit.record(
        session=session,
        principal=staff,
        action="shop.refund",
        target_type="shop_order",
        target_id=number,
        detail={"reason": body.reason, "points": order.points_total, "cash_fen": order.cash_fen},
    )
    return order_read(order)

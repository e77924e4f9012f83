"""Network API: the store finder, delivery-centre assignment, balance payments and handover."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from carloop.accounts.schemas import Principal, Role
from carloop.network import handover, service
from carloop.network.schemas import (
    BalancePaymentCreate,
    BalancePaymentRead,
    BalanceRead,
    CentreAssign,
    CentreAssigned,
    HandoverCreate,
    HandoverRead,
    NoticeRead,
    StoreDetail,
    StoreFound,
    StoreKind,
    StorePaymentCreate,
    StoreService,
)
from carloop.notices import service as notices
from carloop.ordering import service as ordering
from carloop.payments import service as payments
from carloop.payments.providers.base import PaymentProvider
from carloop.web.deps import (
    CurrentCustomer,
    CurrentPrincipal,
    CurrentStaff,
    DbSession,
    public_base_url,
    require_roles,
)

router = APIRouter(tags=["network"])
HqStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]


@router.get("/stores", response_model=list[StoreFound])
def find_stores(
    session: DbSession,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    city: Annotated[str | None, Query(max_length=60)] = None,
    kind: StoreKind | None = None,
    service_offered: Annotated[StoreService | None, Query(alias="service")] = None,
    model: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[StoreFound]:
    """Outlets nearest a point (lat, lon) or a city, by kind, service and model on display (public)."""
    found = service.find_stores(
        session=session,
        lat=lat,
        lon=lon,
        city=city,
        kind=kind,
        service=service_offered,
        model=model,
        limit=limit,
    )
    return [StoreFound(store=service.detail(f.store), distance_km=f.distance_km) for f in found]


@router.get("/stores/{code}", response_model=StoreDetail)
def get_store(code: str, session: DbSession) -> StoreDetail:
    """One outlet with its hours, capacities and demo cars (public: anyone may look stores up)."""
    return service.detail(service.get_store_by_code(session=session, code=code))


@router.post("/orders/{number}/delivery-centre", response_model=CentreAssigned)
def assign_centre(number: str, body: CentreAssign, session: DbSession, me: CurrentCustomer) -> CentreAssigned:
    """Choose the order's delivery centre from the buyer's city: the nearest with room."""
    order = ordering.get_for(session=session, principal=me, number=number, for_update=True)
    found = service.assign_delivery_centre(session=session, order=order, city=body.city, actor=me.actor)
    return CentreAssigned(
        order_number=order.number, store=service.detail(found.store), distance_km=found.distance_km
    )


@router.post("/network/centres/{code}/rebalance")
def rebalance(code: str, session: DbSession, staff: HqStaff) -> dict[str, list[str]]:
    """Move orders off an overloaded centre to the next best ones; their buyers are notified."""
    store = service.get_store_by_code(session=session, code=code)
    return {
        "moved": service.rebalance_centre(
            session=session, store_id=store.id, actor=staff.actor, principal=staff
        )
    }


def _balance(session: DbSession, order_number: str, order_id: int) -> BalanceRead:
    order = ordering.load(session=session, number=order_number)
    money = handover.balance(session=session, order=order)
    return BalanceRead(
        order_number=order.number,
        total_fen=money.total_fen,
        held_fen=money.held_fen,
        due_fen=money.due_fen,
        settled=money.settled,
        payments=[
            BalancePaymentRead.model_validate(p)
            for p in payments.payments_for_order(session=session, order_id=order_id)
        ],
    )


@router.get("/orders/{number}/balance", response_model=BalanceRead)
def get_balance(number: str, session: DbSession, me: CurrentPrincipal) -> BalanceRead:
    """The order's price, what is held for it and what is due (its buyer and its centre's staff)."""
    order = ordering.get_for(session=session, principal=me, number=number)
    handover.record_staff_view(session=session, principal=me, order=order, what="balance")
    return _balance(session, order.number, order.id)


@router.post("/orders/{number}/balance-payments", status_code=201, response_model=BalancePaymentRead)
def pay_balance(
    number: str, body: BalancePaymentCreate, request: Request, session: DbSession, me: CurrentCustomer
) -> BalancePaymentRead:
    """Start an online payment of part or all of the balance."""
    provider: PaymentProvider = request.app.state.payment_provider
    payment = handover.start_balance_payment(
        session=session,
        provider=provider,
        principal=me,
        number=number,
        amount_fen=body.amount_fen,
        base_url=public_base_url(request),
    )
    return BalancePaymentRead.model_validate(payment)


@router.post("/store/orders/{number}/payments", status_code=201, response_model=BalancePaymentRead)
def record_store_payment(
    number: str, body: StorePaymentCreate, session: DbSession, staff: CurrentStaff
) -> BalancePaymentRead:
    """Record a balance payment taken at the store (staff of the order's centre; audited)."""
    payment = handover.record_store_payment(
        session=session, principal=staff, number=number, amount_fen=body.amount_fen, reference=body.reference
    )
    return BalancePaymentRead.model_validate(payment)


@router.post("/store/orders/{number}/handover", response_model=HandoverRead)
def hand_over(
    number: str, body: HandoverCreate, request: Request, session: DbSession, staff: CurrentStaff
) -> HandoverRead:
    """Complete the handover checklist; the order becomes delivered once the balance is settled
    (a surplus held above the price is refunded first)."""
    done = handover.hand_over(
        provider=request.app.state.payment_provider,
        session=session,
        principal=staff,
        number=number,
        vin=body.vin,
        inspection_passed=body.inspection_passed,
        documents_signed=body.documents_signed,
    )
    return HandoverRead(order_number=number, vin=done.vin, checklist=done.checklist, actor=done.actor)


@router.get("/me/notices", response_model=list[NoticeRead])
def my_notices(session: DbSession, me: CurrentCustomer) -> list[NoticeRead]:
    """The buyer's notices (from every domain), newest first, in the language they chose."""
    assert me.customer_id is not None
    locale = notices.preferences(session=session, customer_id=me.customer_id).locale
    return [
        NoticeRead(subject=n.subject, body=n.body, sent=not n.pending)
        for n in notices.views(session=session, customer_id=me.customer_id, locale=locale)
    ]

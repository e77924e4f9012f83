"""Order API: reserve, pay, lock, refund, cancel, my orders, staff search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Principal
from carloop.analytics.rules import Stage
from carloop.audit import service as audit
from carloop.errors import PolicyViolation
from carloop.ordering import deposits, idempotency, reservations, rules, service, transfers
from carloop.ordering.models import FamilyMember, Order, OrderTransfer
from carloop.ordering.schemas import (
    CancelRequest,
    FamilyInvitationRead,
    FamilyInvitationSent,
    FamilyMemberCreate,
    FamilyMemberRead,
    LockConfirm,
    OrderCreate,
    OrderRead,
    PaymentRead,
    ReservationRead,
    TransferCreate,
    TransferRead,
)
from carloop.payments import service as payments
from carloop.payments.models import Payment
from carloop.payments.providers.base import PaymentProvider
from carloop.web import tracking
from carloop.web.deps import CurrentCustomer, CurrentStaff, DbSession, identify_first

router = APIRouter(tags=["orders"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key", max_length=200, description="Retries with the same key get the first answer."
    ),
]


def provider_of(request: Request) -> PaymentProvider:
    """The payment provider the app was built with."""
    provider: PaymentProvider = request.app.state.payment_provider
    return provider


def payment_read(payment: Payment) -> PaymentRead:
    """The API shape of a payment."""
    return PaymentRead(
        trade_no=payment.trade_no,
        purpose=str(payment.purpose),
        provider=payment.provider,
        amount_fen=payment.amount_fen,
        status=str(payment.status),
        pay_url=payment.pay_url,
    )


def _once(
    request: Request,
    session: DbSession,
    principal: Principal,
    key: str | None,
    body: Any,
    produce: Callable[[], tuple[int, dict[str, Any]]],
) -> JSONResponse:
    status, payload, replayed = idempotency.run_once(
        session=session,
        scope=principal.actor,
        key=key,
        request_hash=idempotency.fingerprint(request.method, request.url.path, body),
        produce=produce,
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(payload, status_code=status, headers=headers)


def _mine(session: DbSession, principal: Principal, number: str) -> Order:
    return service.get_for(session=session, principal=principal, number=number, for_update=True)


def verified_identity(body: OrderCreate, request: Request) -> str | None:
    """An edition body's identity (schema and real-name adapter check it; kept only as the keyed hash),
    verified before the route's transaction opens (``deps.identify_first``)."""
    if body.id_number is None:
        return None
    return identify_first(request, id_number=body.id_number, real_name=body.real_name).identity_hash


@router.post("/orders", status_code=201, response_model=ReservationRead)
def reserve(
    body: OrderCreate,
    request: Request,
    identity: Annotated[str | None, Depends(verified_identity)],  # before DbSession: no transaction yet
    session: DbSession,
    me: CurrentCustomer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Reserve a configured car (``reserve_many`` of one): the order waits for its deposit, its queue
    place (and edition number) held for the payment window; ``payment.pay_url`` is where to pay."""
    assert me.customer_id is not None
    made = reservations.reserve(
        session=session,
        provider=provider_of(request),
        customer_id=me.customer_id,
        config=body.configuration,
        scope=me.actor,
        key=key,
        identity_hash=identity,
        id_number=body.id_number,
    )
    order = service.load(session=session, number=made.number)
    if not made.replayed:
        tracking.track(
            request,
            session,
            Stage.RESERVATION_STARTED,
            model=order.model,
            trim=order.trim,
            order_id=order.id,
            total_fen=order.total_fen,
        )
    payment = payments.get_payment(session=session, trade_no=made.trade_no)
    out = ReservationRead(order=OrderRead.of(order), payment=payment_read(payment))
    headers = {"Idempotent-Replayed": "true"} if made.replayed else None
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers=headers)


@router.get("/orders", response_model=list[OrderRead])
def my_orders(session: DbSession, me: CurrentCustomer) -> list[OrderRead]:
    """The signed-in customer's orders, newest first."""
    assert me.customer_id is not None
    return [OrderRead.of(o) for o in service.list_for_customer(session=session, customer_id=me.customer_id)]


@router.get("/orders/{number}", response_model=OrderRead)
def get_order(number: str, session: DbSession, me: CurrentCustomer) -> OrderRead:
    """One of the customer's orders; anyone else's is 404."""
    return OrderRead.of(service.get_for(session=session, principal=me, number=number))


@router.post("/orders/{number}/payments", status_code=201, response_model=PaymentRead)
def pay_deposit(
    number: str, request: Request, session: DbSession, me: CurrentCustomer, key: IdempotencyKey = None
) -> JSONResponse:
    """Start (or resume) the deposit payment of an unpaid order."""

    def produce() -> tuple[int, dict[str, Any]]:
        order = _mine(session, me, number)
        payment = deposits.start_deposit_payment(session=session, provider=provider_of(request), order=order)
        return 201, payment_read(payment).model_dump(mode="json")

    return _once(request, session, me, key, None, produce)


@router.post("/orders/{number}/lock", response_model=OrderRead)
def lock_order(
    number: str,
    body: LockConfirm,
    request: Request,
    session: DbSession,
    me: CurrentCustomer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Lock early. The deposit becomes non-refundable, so the body must repeat amount and configuration."""

    def produce() -> tuple[int, dict[str, Any]]:
        order = _mine(session, me, number)
        confirmation = rules.LockConfirmation(
            body.acknowledge_non_refundable, body.deposit_fen, body.configuration
        )
        service.lock(session=session, order=order, confirmation=confirmation, actor=me.actor)
        return 200, OrderRead.of(order).model_dump(mode="json")

    return _once(request, session, me, key, body.model_dump(mode="json"), produce)


@router.post("/orders/{number}/refund", response_model=OrderRead)
def refund_deposit(
    number: str, request: Request, session: DbSession, me: CurrentCustomer, key: IdempotencyKey = None
) -> JSONResponse:
    """Refund a refundable deposit in one call; the order ends as refunded. Safe to retry."""

    def produce() -> tuple[int, dict[str, Any]]:
        order = _mine(session, me, number)
        service.refund_deposit(session=session, provider=provider_of(request), order=order, actor=me.actor)
        return 200, OrderRead.of(order).model_dump(mode="json")

    return _once(request, session, me, key, None, produce)


@router.post("/orders/{number}/cancel", response_model=OrderRead)
def cancel_order(
    number: str,
    request: Request,
    session: DbSession,
    me: CurrentCustomer,
    body: CancelRequest | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Cancel: unpaid orders end, refundable deposits go back, locked orders forfeit (if accepted)."""
    accept = body.accept_forfeit if body else False

    def produce() -> tuple[int, dict[str, Any]]:
        order = _mine(session, me, number)
        service.cancel(
            session=session, provider=provider_of(request), order=order, actor=me.actor, accept_forfeit=accept
        )
        return 200, OrderRead.of(order).model_dump(mode="json")

    return _once(request, session, me, key, {"accept_forfeit": accept}, produce)


@router.get("/staff/orders", response_model=list[OrderRead])
def staff_search(
    request: Request,
    session: DbSession,
    staff: CurrentStaff,
    q: Annotated[str, Query(max_length=60)] = "",
    status: rules.OrderStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[OrderRead]:
    """Staff order search, limited to the orders the role and store may see (audited)."""
    found = service.search(session=session, principal=staff, text=q, status=status, limit=limit)
    audit.record(
        session=session,
        principal=staff,
        action="order.search",
        target_type="order",
        target_id="*",
        detail={"q": q, "status": str(status) if status else None, "results": len(found)},
        ip=request.client.host if request.client else None,
    )
    return [OrderRead.of(o) for o in found]


@router.get("/staff/orders/{number}", response_model=OrderRead)
def staff_get(number: str, request: Request, session: DbSession, staff: CurrentStaff) -> OrderRead:
    """One order, if the staff member's role and store may see it (audited)."""
    order = service.get_for(session=session, principal=staff, number=number)
    audit.record(
        session=session,
        principal=staff,
        action="order.view",
        target_type="order",
        target_id=order.number,
        ip=request.client.host if request.client else None,
    )
    return OrderRead.of(order)


# --- family members and hand-overs (anti-scalper: only to listed family, only with the owner) -------


def _family_read(session: DbSession, member: FamilyMember) -> FamilyMemberRead:
    customer = accounts.get_customer(session=session, customer_id=member.member_id)
    return FamilyMemberRead(
        member_id=member.member_id, display_name=customer.display_name, relation=member.relation
    )


def _transfer_read(order: Order, transfer: OrderTransfer) -> TransferRead:
    return TransferRead(
        order_number=order.number,
        to_member_id=transfer.to_customer_id,
        token=transfer.token,
        confirmed=transfer.confirmed_at is not None,
        created_at=transfer.created_at,
        confirmed_at=transfer.confirmed_at,
    )


@router.get("/family", response_model=list[FamilyMemberRead])
def my_family(session: DbSession, me: CurrentCustomer) -> list[FamilyMemberRead]:
    """The family members the signed-in customer listed."""
    assert me.customer_id is not None
    return [
        _family_read(session, m) for m in transfers.family_members(session=session, owner_id=me.customer_id)
    ]


@router.post("/family", status_code=202, response_model=FamilyInvitationSent)
def invite_family_member(
    body: FamilyMemberCreate, session: DbSession, me: CurrentCustomer
) -> FamilyInvitationSent:
    """Invite someone as family by their phone; they must accept. The answer is the same whether or
    not the phone has an account, so the endpoint tells nobody who is a carloop customer."""
    assert me.customer_id is not None
    member = accounts.find_customer(session=session, phone=body.phone)
    if member is not None and member.id == me.customer_id:
        raise PolicyViolation("You cannot list yourself as family.", field="phone")
    if member is not None:
        transfers.invite_family_member(
            session=session, owner_id=me.customer_id, member_id=member.id, relation=body.relation
        )
    return FamilyInvitationSent(relation=body.relation)


@router.get("/family/invitations", response_model=list[FamilyInvitationRead])
def my_family_invitations(session: DbSession, me: CurrentCustomer) -> list[FamilyInvitationRead]:
    """Invitations to be someone's family that wait for the signed-in customer's answer."""
    assert me.customer_id is not None
    return [
        FamilyInvitationRead(
            invitation_id=invitation.id,
            owner_display_name=accounts.get_customer(
                session=session, customer_id=invitation.owner_id
            ).display_name,
            relation=invitation.relation,
        )
        for invitation in transfers.invitations_for(session=session, member_id=me.customer_id)
    ]


@router.post("/family/invitations/{invitation_id}/accept", response_model=FamilyInvitationRead)
def accept_family_invitation(
    invitation_id: Annotated[int, Path(gt=0, lt=2**63)], session: DbSession, me: CurrentCustomer
) -> FamilyInvitationRead:
    """Consent to being the inviting owner's family (only then can an order be handed to you)."""
    assert me.customer_id is not None
    invitation = transfers.accept_invitation(
        session=session, invitation_id=invitation_id, member_id=me.customer_id
    )
    owner = accounts.get_customer(session=session, customer_id=invitation.owner_id)
    return FamilyInvitationRead(
        invitation_id=invitation.id, owner_display_name=owner.display_name, relation=invitation.relation
    )


@router.post("/family/invitations/{invitation_id}/decline", status_code=204)
def decline_family_invitation(
    invitation_id: Annotated[int, Path(gt=0, lt=2**63)], session: DbSession, me: CurrentCustomer
) -> Response:
    """Decline an invitation, or stop being someone's family."""
    assert me.customer_id is not None
    transfers.decline_invitation(session=session, invitation_id=invitation_id, member_id=me.customer_id)
    return Response(status_code=204)


@router.post("/orders/{number}/transfers", status_code=201, response_model=TransferRead)
def request_transfer(
    number: str,
    body: TransferCreate,
    request: Request,
    session: DbSession,
    me: CurrentCustomer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Propose handing one of your orders to a listed family member; nothing moves until you confirm."""

    def produce() -> tuple[int, dict[str, Any]]:
        assert me.customer_id is not None
        order = _mine(session, me, number)
        transfer = transfers.request_transfer(
            session=session, order=order, requested_by=me.customer_id, to_customer_id=body.to_member_id
        )
        return 201, _transfer_read(order, transfer).model_dump(mode="json")

    return _once(request, session, me, key, body.model_dump(mode="json"), produce)


@router.post("/orders/{number}/transfers/{token}/confirm", response_model=TransferRead)
def confirm_transfer(
    number: str,
    token: str,
    request: Request,
    session: DbSession,
    me: CurrentCustomer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Confirm a hand-over you proposed: the order then belongs to the family member (retry: same key)."""

    def produce() -> tuple[int, dict[str, Any]]:
        assert me.customer_id is not None
        order = _mine(session, me, number)
        transfer = transfers.get_transfer(session=session, order=order, token=token)
        transfers.confirm_transfer(session=session, token=transfer.token, confirmed_by=me.customer_id)
        return 200, _transfer_read(order, transfer).model_dump(mode="json")

    return _once(request, session, me, key, None, produce)

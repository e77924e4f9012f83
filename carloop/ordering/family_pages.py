"""Family pages: a buyer lists family members (they must accept), answers invitations, and hands an
order to a listed member in two steps (propose, then confirm), by the same rules as the family API
(``transfers``: only to accepted family, only by the owner, editions' limits)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from carloop.accounts import service as accounts
from carloop.accounts.rules import normalise_phone
from carloop.errors import DomainError
from carloop.ordering import rules, service, transfers
from carloop.ordering.models import OrderTransfer
from carloop.web.deps import CurrentCustomer, DbSession, FormCustomer

router = APIRouter()
RELATIONS = ("spouse", "parent", "child", "sibling")
Id = Annotated[int, Path(gt=0, lt=2**63)]


def _render(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(
        request, "ordering/family.html", context, status_code=status_code
    )


def _page(request: Request, session: Any, me: Any, error: str | None = None, status: int = 200) -> Response:
    owner = int(me.customer_id)
    members = transfers.family_members(session=session, owner_id=owner)
    names = {
        m.member_id: accounts.get_customer(session=session, customer_id=m.member_id).display_name
        for m in members
    }
    invitations = [
        (i, accounts.get_customer(session=session, customer_id=i.owner_id).display_name)
        for i in transfers.invitations_for(session=session, member_id=owner)
    ]
    orders = [
        o
        for o in service.list_for_customer(session=session, customer_id=owner)
        if o.status not in rules.FINAL
    ]
    pending = list(
        session.scalars(
            select(OrderTransfer).where(
                OrderTransfer.from_customer_id == owner, OrderTransfer.confirmed_at.is_(None)
            )
        )
    )
    numbers = {o.id: o.number for o in orders}
    return _render(
        request,
        {
            "members": members,
            "names": names,
            "invitations": invitations,
            "orders": orders,
            "pending": [t for t in pending if t.order_id in numbers],
            "numbers": numbers,
            "relations": RELATIONS,
            "error": error,
            "sent": request.query_params.get("sent") == "1",
        },
        status,
    )


@router.get("/family")
def family(request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """My family members, invitations waiting for my answer, and hand-overs of my orders."""
    return _page(request, session, me)


@router.post("/family/invite")
def invite(
    request: Request,
    session: DbSession,
    me: FormCustomer,
    phone: Annotated[str, Form(max_length=32)],
    relation: Annotated[str, Form(max_length=20)],
) -> Response:
    """Invite someone by phone; the answer is the same whether or not the phone has an account."""
    number = normalise_phone(phone)
    if number is None or relation not in RELATIONS:
        return _page(request, session, me, INVALID, 422)
    member = accounts.find_customer(session=session, phone=number)
    try:
        if member is not None:
            if member.id == me.customer_id:
                return _page(request, session, me, "You cannot list yourself as family.", 422)
            transfers.invite_family_member(
                session=session, owner_id=int(me.customer_id or 0), member_id=member.id, relation=relation
            )
    except DomainError as err:
        return _page(request, session, me, err.message, 422)
    return RedirectResponse("/family?sent=1", status_code=303)


@router.post("/family/invitations/{invitation_id}/{answer}")
def answer(
    invitation_id: Id, answer: str, request: Request, session: DbSession, me: FormCustomer
) -> Response:
    """Accept or decline an invitation to be someone's family (someone else's invitation: 404)."""
    member = int(me.customer_id or 0)
    if answer == "accept":
        transfers.accept_invitation(session=session, invitation_id=invitation_id, member_id=member)
    elif answer == "decline":
        transfers.decline_invitation(session=session, invitation_id=invitation_id, member_id=member)
    else:
        return _page(request, session, me, INVALID, 422)
    return RedirectResponse("/family", status_code=303)


@router.post("/orders/{number}/transfer")
def propose(
    number: str,
    request: Request,
    session: DbSession,
    me: FormCustomer,
    to_member_id: Annotated[int, Form(gt=0, lt=2**63)],
) -> Response:
    """Step one of a hand-over: propose it (nothing moves until the owner confirms)."""
    order = service.get_for(session=session, principal=me, number=number, for_update=True)
    try:
        with session.begin_nested():
            transfers.request_transfer(
                session=session,
                order=order,
                requested_by=int(me.customer_id or 0),
                to_customer_id=to_member_id,
            )
    except DomainError as err:
        return _page(request, session, me, err.message, 422)
    return RedirectResponse("/family", status_code=303)


@router.post("/orders/{number}/transfer/{token}/confirm")
def confirm(
    number: str,
    token: Annotated[str, Path(max_length=64)],
    request: Request,
    session: DbSession,
    me: FormCustomer,
    acknowledge: Annotated[bool, Form()] = False,
) -> Response:
    """Step two: the owner confirms; the order then belongs to the family member."""
    order = service.get_for(session=session, principal=me, number=number, for_update=True)
    pending = transfers.get_transfer(session=session, order=order, token=token)
    if not acknowledge:
        return _page(request, session, me, CONFIRM, 422)
    transfers.confirm_transfer(session=session, token=pending.token, confirmed_by=int(me.customer_id or 0))
    return RedirectResponse("/family", status_code=303)


INVALID = "Enter an 11-digit mobile number and choose how you are related."
CONFIRM = "Tick the box to confirm the order passes to your family member for good."

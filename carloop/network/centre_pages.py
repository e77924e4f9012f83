"""Delivery-centre pages: HQ sees every centre's load and rebalances an overloaded one (buyers are
told, the move audited); a buyer chooses their order's centre from their city, by the same rules as
``POST /api/v1/orders/{number}/delivery-centre`` (``service.assign_delivery_centre``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from carloop.accounts.schemas import Role
from carloop.errors import DomainError, PermissionDenied
from carloop.network import rules, service
from carloop.network.schemas import StoreKind
from carloop.ordering import service as ordering
from carloop.ordering.schemas import OrderRead
from carloop.web.deps import CurrentCustomer, CurrentStaff, DbSession, FormCustomer, FormStaff

router = APIRouter()
HQ = (Role.HQ_OPS, Role.ADMIN)


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


@router.get("/staff/centres")
def centres(request: Request, session: DbSession, staff: CurrentStaff) -> Response:
    """Every delivery centre's open orders against its capacity (store staff: their own centre)."""
    found = service.list_stores(session=session, kind=StoreKind.DELIVERY_CENTRE)
    if staff.role not in HQ:
        found = [c for c in found if c.id == staff.store_id]
    loads = ordering.delivery_store_load(session=session, store_ids=[c.id for c in found])
    rows = [
        {
            "store": c,
            "load": loads.get(c.id, 0),
            "excess": rules.overload(loads.get(c.id, 0), c.storage_capacity),
        }
        for c in found
    ]
    moved = request.query_params.getlist("moved")
    return _render(
        request,
        "network/centres.html",
        {"rows": rows, "may_rebalance": staff.role in HQ, "moved": moved[:50]},
    )


@router.post("/staff/centres/{code}/rebalance")
def rebalance(code: str, request: Request, session: DbSession, staff: FormStaff) -> Response:
    """Move the newest movable orders off an overloaded centre (HQ only; buyers told, audited)."""
    if staff.role not in HQ:
        raise PermissionDenied("Only HQ rebalances delivery centres.")
    store = service.get_store_by_code(session=session, code=code)
    moved = service.rebalance_centre(session=session, store_id=store.id, actor=staff.actor, principal=staff)
    query = "&".join(f"moved={n}" for n in moved) or "moved="
    return RedirectResponse(f"/staff/centres?{query}", status_code=303)


@router.get("/orders/{number}/centre")
def choose_centre(number: str, request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """The buyer's order's delivery centre and a form to choose it from their city."""
    order = ordering.get_for(session=session, principal=me, number=number)
    return _centre_page(request, session, order)


def _centre_page(
    request: Request, session: Any, order: Any, error: str | None = None, city: str = "", status: int = 200
) -> Response:
    current = (
        service.get_store(session=session, store_id=order.delivery_store_id)
        if order.delivery_store_id
        else None
    )
    return _render(
        request,
        "network/order_centre.html",
        {"order": OrderRead.of(order), "centre": current, "error": error, "city": city},
        status,
    )


@router.post("/orders/{number}/centre")
def assign_centre(
    number: str,
    request: Request,
    session: DbSession,
    me: FormCustomer,
    city: Annotated[str, Form(min_length=1, max_length=60)],
) -> Response:
    """Give the order the nearest delivery centre with room for the buyer's city."""
    order = ordering.get_for(session=session, principal=me, number=number, for_update=True)
    try:
        with session.begin_nested():
            service.assign_delivery_centre(session=session, order=order, city=city.strip(), actor=me.actor)
    except DomainError as err:
        session.refresh(order)
        return _centre_page(request, session, order, err.message, city, 422)
    return RedirectResponse(f"/orders/{number}/centre", status_code=303)

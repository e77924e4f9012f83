"""Inventory-car pages: HQ sees every built car without a buyer and to whom it is offered until when
(audited: it names orders); a buyer opens the car offered to their order and accepts it within its
72 hours (``inventory.accept``: the order takes the car's VIN, its build slot goes to the next order).
Offers that run out move on by themselves (the ``offer_expiry`` job)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from carloop.accounts.schemas import Role
from carloop.audit import service as audit
from carloop.errors import DomainError, PermissionDenied
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.schemas import OrderRead
from carloop.production import inventory
from carloop.web.deps import CurrentCustomer, CurrentStaff, DbSession, FormCustomer

router = APIRouter()


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


@router.get("/staff/inventory")
def stock_page(request: Request, session: DbSession, staff: CurrentStaff) -> Response:
    """Every inventory car with its offer (HQ only; the look is audited, as it names orders)."""
    if staff.role not in (Role.HQ_OPS, Role.ADMIN):
        raise PermissionDenied("Only HQ sees the inventory cars.")
    cars = inventory.stock(session=session)
    ids = [c.offered_order_id for c in cars if c.offered_order_id]
    rows = session.execute(select(Order.id, Order.number).where(Order.id.in_(ids)))
    numbers = {int(order_id): str(number) for order_id, number in rows}
    audit.record(
        session=session,
        principal=staff,
        action="production.inventory.view",
        target_type="order",
        target_id="*",
        detail={"offered_order_ids": ids[:50], "via": "page"},
        ip=request.client.host if request.client else None,
    )
    return _render(request, "production/inventory.html", {"cars": cars, "numbers": numbers})


@router.get("/orders/{number}/offer")
def offer_page(number: str, request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """The built car offered to the buyer's order, with its deadline and the accept button."""
    order = ordering.get_for(session=session, principal=me, number=number)
    car = inventory.offer_for(session=session, order_id=order.id)
    return _render(
        request, "production/offer.html", {"order": OrderRead.of(order), "car": car, "error": None}
    )


@router.post("/orders/{number}/offer/{car_id}/accept")
def accept_offer(
    number: str,
    car_id: int,
    request: Request,
    session: DbSession,
    me: FormCustomer,
    acknowledge: Annotated[bool, Form()] = False,
) -> Response:
    """Take the offered car instead of waiting for the build (the buyer ticked the acknowledgement)."""
    order = ordering.get_for(session=session, principal=me, number=number, for_update=True)
    car = inventory.offer_for(session=session, order_id=order.id)
    context = {"order": OrderRead.of(order), "car": car}
    if not acknowledge:
        return _render(request, "production/offer.html", {**context, "error": ACK}, 422)
    try:
        with session.begin_nested():
            inventory.accept(session=session, car_id=car_id, order=order, actor=me.actor)
    except DomainError as err:
        if err.code == "not-found":
            raise
        session.refresh(order)
        return _render(request, "production/offer.html", {**context, "error": err.message}, 409)
    return RedirectResponse(f"/orders/{number}", status_code=303)


ACK = "Tick the box to confirm you take this car instead of waiting for yours to be built."

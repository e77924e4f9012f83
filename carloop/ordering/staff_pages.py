"""The staff order page: one order's timeline, payments, appointments, notices and audit trail, and
support acting for its buyer (refund or cancel, reason required). Role- and store-bound like the
staff API (another store's order is not found), every view and action audited, forms carry CSRF."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.appointments import service as appointments
from carloop.audit import service as audit
from carloop.errors import DomainError, PermissionDenied
from carloop.invoicing import service as invoicing
from carloop.network.support import SupportAction, act_for_buyer
from carloop.notices import service as notices
from carloop.ordering import service
from carloop.ordering.api import provider_of
from carloop.ordering.schemas import OrderRead
from carloop.payments import service as payments
from carloop.production import service as production
from carloop.production.rules import Stage
from carloop.web.deps import DbSession, FormStaff, require_staff

router = APIRouter()
PLAN_ROLES = (Role.HQ_OPS, Role.ADMIN)  # who records production and logistics stages, as in the API
StaffPage = Annotated[Principal, Depends(require_staff)]


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _page(
    request: Request, session: Session, staff: Principal, number: str, error: str = "", status: int = 200
) -> Response:
    order = service.get_for(session=session, principal=staff, number=number)
    context: dict[str, Any] = {
        "order": OrderRead.of(order),
        "payments": payments.payments_for_order(session=session, order_id=order.id),
        "appointments": [
            appointments.read(session, a)
            for a in appointments.list_for_customer(session=session, customer_id=order.customer_id)
            if a.order_id in (None, order.id)
        ],
        "notices": notices.views(  # what the buyer was told; the board and forum are not the order's
            session=session,
            customer_id=order.customer_id,
            locale=request.state.locale,
            skip_sources=("community",),
            limit=20,
        ),
        "documents": invoicing.documents_for(
            session=session, order=order, einvoice_offline=request.app.state.einvoicer is None
        ),
        "base": "/staff/orders",
        "staff_actions": True,
        "trail": audit.list_entries(session=session, target_type="order", target_id=order.number, limit=50),
        "actions": list(SupportAction),
        "stages": list(Stage) if staff.role in PLAN_ROLES else [],
        "error": error,
    }
    return request.app.state.renderer.render(
        request, "ordering/staff_order.html", context, status_code=status
    )


@router.get("/staff/orders/{number}")
def staff_order_page(number: str, request: Request, session: DbSession, staff: StaffPage) -> Response:
    """One order as support and the centre see it (audited as a view)."""
    order = service.get_for(session=session, principal=staff, number=number)
    audit.record(
        session=session,
        principal=staff,
        action="order.view",
        target_type="order",
        target_id=order.number,
        detail={"via": "page"},
        ip=_ip(request),
    )
    return _page(request, session, staff, number)


@router.post("/staff/orders/{number}/on-behalf")
def act_on_behalf(
    number: str,
    request: Request,
    session: DbSession,
    staff: FormStaff,
    action: Annotated[SupportAction, Form()],
    reason: Annotated[str, Form(max_length=200)] = "",
    accept_forfeit: Annotated[bool, Form()] = False,
) -> Response:
    """Refund or cancel for the buyer, under the same policy as the buyer's own buttons."""
    try:
        with session.begin_nested():
            act_for_buyer(
                session=session,
                provider=provider_of(request),
                principal=staff,
                number=number,
                action=action,
                reason=reason,
                accept_forfeit=accept_forfeit,
                ip=_ip(request),
            )
    except DomainError as err:
        if err.code == "not-found":
            raise
        return _page(request, session, staff, number, err.message, 422)
    return RedirectResponse(f"/staff/orders/{number}", status_code=303)


@router.post("/staff/orders/{number}/stage")
def record_stage(
    number: str,
    request: Request,
    session: DbSession,
    staff: FormStaff,
    stage: Annotated[Stage, Form()],
) -> Response:
    """HQ records a production or logistics stage from the page (building assigns the VIN); audited."""
    if staff.role not in PLAN_ROLES:
        raise PermissionDenied("Only headquarters operations or an admin may change this.")
    service.get_for(session=session, principal=staff, number=number)
    try:
        with session.begin_nested():
            production.advance_stage(session=session, number=number, stage=stage, actor=staff.actor)
            audit.record(
                session=session,
                principal=staff,
                action="production.stage",
                target_type="order",
                target_id=number,
                detail={"stage": str(stage), "via": "page"},
                ip=_ip(request),
            )
    except DomainError as err:
        if err.code == "not-found" and "production plan" not in err.message:
            raise
        return _page(request, session, staff, number, err.message, 422)
    return RedirectResponse(f"/staff/orders/{number}", status_code=303)

"""Supplier portal pages (a supplier's users see only their own parts) and HQ's view of shortages.

Supplier users sign in on the staff sign-in page (``/supplier/login`` sends them there); anyone who is
not bound to a supplier gets a 404 from the portal, as for any other supplier's data.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.errors import PolicyViolation
from carloop.production import rules as production_rules
from carloop.supply import service
from carloop.web.deps import CurrentPrincipal, DbSession, check_csrf, require_roles

router = APIRouter()

PlanStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]
Text = Annotated[str, Form(max_length=200)]


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _week(raw: str, field: str) -> int:
    try:
        return production_rules.week_of(date.fromisoformat(raw.strip()))
    except ValueError as err:
        raise PolicyViolation("Give the week as a date (YYYY-MM-DD).", field=field) from err


@router.get("/supplier/login")
def supplier_login() -> Response:
    """Supplier users sign in like staff, then land on the portal."""
    return RedirectResponse("/staff/login?next=/supplier", status_code=303)


@router.get("/supplier")
def portal(request: Request, session: DbSession, me: CurrentPrincipal) -> Response:
    """The supplier's parts: demand for the coming weeks, what it confirmed, and its shortage flags."""
    supplier = service.supplier_of(session=session, principal=me)
    parts, conversion = service.forecast(session=session, supplier=supplier)
    context = {
        "supplier": supplier,
        "parts": parts,
        "conversion": conversion,
        "flags": service.flags(session=session, supplier=supplier),
        "saved": request.query_params.get("saved") == "1",
    }
    return _render(request, "supply/portal.html", context)


@router.post("/supplier/confirm")
def confirm(
    request: Request,
    session: DbSession,
    me: CurrentPrincipal,
    part: Text,
    week: Text,
    quantity: Annotated[int, Form(ge=0, le=service.MAX_QUANTITY)],
    csrf_token: Text = "",
) -> Response:
    """Confirm (or change) the quantity of a part the supplier delivers in a week."""
    check_csrf(request, csrf_token)
    supplier = service.supplier_of(session=session, principal=me)
    service.confirm(
        session=session,
        supplier=supplier,
        part_code=part,
        week=_week(week, "week"),
        quantity=quantity,
        actor=me,
        ip=_ip(request),
    )
    return RedirectResponse("/supplier?saved=1", status_code=303)


@router.post("/supplier/shortage")
def flag(
    request: Request,
    session: DbSession,
    me: CurrentPrincipal,
    part: Text,
    from_week: Text,
    recovery_week: Text,
    short_percent: Annotated[int, Form(ge=1, le=100)],
    reason: Text,
    csrf_token: Text = "",
) -> Response:
    """Flag a shortage of a part from a week until the expected recovery week."""
    check_csrf(request, csrf_token)
    supplier = service.supplier_of(session=session, principal=me)
    service.flag_shortage(
        session=session,
        supplier=supplier,
        part_code=part,
        from_week=_week(from_week, "from_week"),
        recovery_week=_week(recovery_week, "recovery_week"),
        share=short_percent / 100,
        reason=reason,
        actor=me,
        ip=_ip(request),
    )
    return RedirectResponse("/supplier?saved=1", status_code=303)


@router.get("/staff/supply")
def hq_view(request: Request, session: DbSession, me: PlanStaff) -> Response:
    """HQ: re-plans caused by suppliers' short confirmations, the caps and the orders they moved."""
    return _hq_page(request, session, me)


@router.post("/staff/supply/suppliers")
def open_supplier(
    request: Request,
    session: DbSession,
    me: PlanStaff,
    code: Annotated[str, Form(max_length=40)],
    name_en: Annotated[str, Form(max_length=80)],
    name_zh: Annotated[str, Form(max_length=80)],
    username: Annotated[str, Form(max_length=40)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Text = "",
) -> Response:
    """HQ adds a supplier and its first portal user; the page shows the systems' API key once."""
    check_csrf(request, csrf_token)
    supplier = service.open_supplier(
        session=session,
        actor=me,
        code=code.strip(),
        name_en=name_en,
        name_zh=name_zh,
        username=username,
        password=password,
        ip=_ip(request),
    )
    return _hq_page(request, session, me, shown=(supplier.code, supplier.api_key))


@router.post("/staff/supply/suppliers/{code}/key")
def rotate_key(
    request: Request, session: DbSession, me: PlanStaff, code: str, csrf_token: Text = ""
) -> Response:
    """HQ gives a supplier's systems a new API key (the old one stops working); shown once."""
    check_csrf(request, csrf_token)
    supplier = service.rotate_key(session=session, actor=me, code=code[:40], ip=_ip(request))
    return _hq_page(request, session, me, shown=(supplier.code, supplier.api_key))


@router.post("/staff/supply/suppliers/{code}/users")
def add_portal_user(
    request: Request,
    session: DbSession,
    me: PlanStaff,
    code: str,
    username: Annotated[str, Form(max_length=40)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Text = "",
) -> Response:
    """HQ gives a supplier another portal account."""
    check_csrf(request, csrf_token)
    service.add_portal_user(
        session=session, actor=me, code=code[:40], username=username, password=password, ip=_ip(request)
    )
    return RedirectResponse("/staff/supply#suppliers", status_code=303)


@router.post("/staff/supply/suppliers/{code}/users/{staff_id}")
def set_portal_user_active(
    request: Request,
    session: DbSession,
    me: PlanStaff,
    code: str,
    staff_id: Annotated[int, Path(ge=1, le=2**62)],
    active: Annotated[bool, Form()] = False,
    csrf_token: Text = "",
) -> Response:
    """HQ turns one of a supplier's portal accounts off (its sessions end) or on again."""
    check_csrf(request, csrf_token)
    service.set_portal_user_active(
        session=session, actor=me, code=code[:40], staff_id=staff_id, active=active, ip=_ip(request)
    )
    return RedirectResponse("/staff/supply#suppliers", status_code=303)


def _hq_page(
    request: Request, session: DbSession, me: Principal, shown: tuple[str, str] | None = None
) -> Response:
    audit.record(
        session=session,
        principal=me,
        action="production.moves.view",
        target_type="order",
        target_id="*",
        detail={"via": "supply page"},
        ip=_ip(request),
    )
    context = {
        "week_start": production_rules.week_start,
        "shortages": service.shortages(session=session),
        "flags": service.flags(session=session),
        "suppliers": {s.id: s for s in service.list_suppliers(session=session)},
        "portal_users": service.portal_users(session=session),
        "shown": shown,  # (code, key) right after HQ created or rotated it: the only time it is shown
    }
    response = _render(request, "supply/hq.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response

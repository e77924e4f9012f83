"""Staff console pages: one place for staff, each section shown to the roles that may use it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from carloop import money
from carloop.accounts import service as accounts
from carloop.accounts.edge import client_ip
from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.catalog import service as catalog
from carloop.clock import SHANGHAI
from carloop.console import rules
from carloop.console.render import render
from carloop.errors import DomainError, PermissionDenied
from carloop.jobs import service as jobs_service
from carloop.network import service as network
from carloop.ordering import terms
from carloop.web.deps import CurrentStaff, DbSession, check_csrf, require_roles

router = APIRouter(prefix="/console")
HqStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]
Admin = Annotated[Principal, require_roles(Role.ADMIN)]
Csrf = Annotated[str, Form(max_length=100)]
Short = Annotated[str, Form(max_length=256)]
AUDIT_TARGETS = ("order", "payment", "staff", "customer", "shop_order", "plan")


@router.get("")
def console_home(request: Request, session: DbSession, principal: CurrentStaff) -> Response:
    """The console's front page: the sections this role may open; HQ also sees the scheduled jobs."""
    hq = principal.role in rules.HQ
    jobs = jobs_service.statuses(session=session, jobs=request.app.state.jobs) if hq else []
    alerts = jobs_service.alerts(session=session) if hq else []
    return render(request, principal, "console/home.html", {"jobs": jobs, "alerts": alerts})


# ---------------------------------------------------------------------------- users and roles (admin)
def _staff_page(
    request: Request, session: DbSession, principal: Principal, error: str = "", status: int = 200
) -> Response:
    return render(
        request,
        principal,
        "console/staff.html",
        {
            "staff": accounts.list_staff(session=session),
            "stores": network.list_stores(session=session),
            "roles": [Role.STORE_STAFF, Role.HQ_OPS, Role.HQ_FINANCE, Role.ADMIN],
            "error": error,
        },
        status,
    )


@router.get("/staff")
def staff_page(request: Request, session: DbSession, principal: Admin) -> Response:
    """Staff accounts, their roles and stores, with forms to add and change them (viewing is audited)."""
    audit.record(
        session=session,
        principal=principal,
        action="staff.listed",
        target_type="staff",
        target_id="*",
        detail={"via": "console"},
        ip=client_ip(request),
    )
    return _staff_page(request, session, principal)


def _role(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        return Role.CUSTOMER  # refused by the accounts service with a clear message


def _store(raw: str) -> int | None:
    return int(raw) if raw.strip().isdigit() and len(raw.strip()) < 18 else None


@router.post("/staff")
def create_staff(
    request: Request,
    session: DbSession,
    principal: Admin,
    csrf_token: Csrf = "",
    username: Short = "",
    display_name: Short = "",
    password: Short = "",
    role: Short = "",
    store_id: Short = "",
) -> Response:
    """Add a staff account (audited by the accounts service)."""
    check_csrf(request, csrf_token)
    try:
        with session.begin_nested():
            accounts.create_staff(
                session=session,
                actor=principal,
                username=username,
                display_name=display_name,
                password=password,
                role=_role(role),
                store_id=_store(store_id),
                ip=client_ip(request),
            )
    except DomainError as err:
        return _staff_page(request, session, principal, err.message, 422)
    return RedirectResponse("/console/staff", status_code=303)


@router.post("/staff/{staff_id}")
def update_staff(
    request: Request,
    session: DbSession,
    principal: Admin,
    staff_id: int,
    csrf_token: Csrf = "",
    role: Short = "",
    store_id: Short = "",
    active: Short = "",
) -> Response:
    """Change a staff account's role, store or active flag (audited by the accounts service)."""
    check_csrf(request, csrf_token)
    try:
        with session.begin_nested():
            accounts.update_staff(
                session=session,
                actor=principal,
                staff_id=staff_id,
                role=_role(role),
                store_id=_store(store_id),
                active=active == "on",
                ip=client_ip(request),
            )
    except DomainError as err:
        return _staff_page(request, session, principal, err.message, 422)
    return RedirectResponse("/console/staff", status_code=303)


# ------------------------------------------------------------------------------------------ audit log
@router.get("/audit")
def audit_page(
    request: Request,
    session: DbSession,
    principal: CurrentStaff,
    actor: Annotated[str, Query(max_length=40)] = "",
    action: Annotated[str, Query(max_length=60)] = "",
    target_type: Annotated[str, Query(max_length=40)] = "",
    target_id: Annotated[str, Query(max_length=64)] = "",
    date_from: Annotated[date | None, Query()] = None,
    date_to: Annotated[date | None, Query()] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    """Who did what to which order, payment or account; store staff see their store's entries only.

    Dates are China days (Asia/Shanghai), both inclusive.
    """
    store_id = principal.store_id if principal.role is Role.STORE_STAFF else None
    if principal.role is Role.STORE_STAFF and store_id is None:
        raise PermissionDenied("Store staff without a store see no audit entries.")
    entries = audit.list_entries(
        session=session,
        actor=actor or None,
        action=action or None,
        target_type=target_type or None,
        target_id=target_id or None,
        store_id=store_id,
        before_id=before_id,
        since=_china_midnight(date_from) if date_from else None,
        until=_china_midnight(date_to + timedelta(days=1)) if date_to else None,
        limit=100,
    )
    return render(
        request,
        principal,
        "console/audit.html",
        {
            "entries": entries,
            "filters": {
                "actor": actor,
                "action": action,
                "target_type": target_type,
                "target_id": target_id,
                "date_from": date_from.isoformat() if date_from else "",
                "date_to": date_to.isoformat() if date_to else "",
            },
            "target_types": sorted({*AUDIT_TARGETS, *audit.target_types(session=session)}),
            "next_before": entries[-1].id if len(entries) == 100 else None,
        },
    )


def _china_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=SHANGHAI)


# ---------------------------------------------------------------------------------- catalog versions
@router.get("/catalog")
def catalog_page(
    request: Request,
    session: DbSession,
    principal: HqStaff,
    version: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Every catalog version, the one in force, and a preview of any of them."""
    active = catalog.active_catalog_version(session=session)
    versions = list(catalog.list_versions())
    shown = version if version in versions else active
    return render(
        request,
        principal,
        "console/catalog.html",
        {"versions": versions, "active": active, "shown": shown, "preview": catalog.describe(shown)},
    )


@router.post("/catalog/activate")
def activate_catalog(
    request: Request, session: DbSession, principal: HqStaff, csrf_token: Csrf = "", version: Short = ""
) -> Response:
    """Put a catalog version in force (audited)."""
    check_csrf(request, csrf_token)
    catalog.activate_catalog_version(session=session, actor=principal, version=version, ip=client_ip(request))
    return RedirectResponse(f"/console/catalog?version={version}", status_code=303)


# ------------------------------------------------------------------------------------ deposit policy
def _policy_page(
    request: Request, session: DbSession, principal: Principal, error: str = "", status: int = 200
) -> Response:
    version = catalog.active_catalog_version(session=session)
    overrides = {(o.model, o.trim): o for o in terms.list_deposit_overrides(session=session)}
    rows = []
    for car in catalog.get_catalog(version).models.values():
        for trim in [None, *car.trims.values()]:
            code = trim.code if trim is not None else ""
            base = trim.deposit if trim is not None else car.deposit
            effective = terms.effective_deposit(session=session, model=car.code, trim=code, policy=base)
            rows.append(
                {
                    "model": car,
                    "trim": trim,
                    "code": code,
                    "catalog": base,
                    "effective": effective,
                    "override": overrides.get((car.code, code)),
                }
            )
    return render(
        request, principal, "console/policy.html", {"rows": rows, "version": version, "error": error}, status
    )


@router.get("/policy")
def policy_page(request: Request, session: DbSession, principal: HqStaff) -> Response:
    """Deposit terms per model and trim: the catalog's, HQ's overrides, and what is in force."""
    return _policy_page(request, session, principal)


@router.post("/policy")
def set_policy(
    request: Request,
    session: DbSession,
    principal: HqStaff,
    csrf_token: Csrf = "",
    model: Short = "",
    trim: Short = "",
    amount_yuan: Short = "",
    refundable_hours: Short = "",
    auto_lock: Short = "",
    lock_at_payment: Short = "",
    clear: Short = "",
) -> Response:
    """Set or clear a deposit override (audited)."""
    check_csrf(request, csrf_token)
    try:
        with session.begin_nested():
            if clear:
                terms.clear_deposit_policy(
                    session=session, actor=principal, model=model, trim=trim, ip=client_ip(request)
                )
            else:
                terms.set_deposit_policy(
                    session=session,
                    actor=principal,
                    model=model,
                    trim=trim,
                    amount_fen=_fen(amount_yuan),
                    refundable_hours=int(refundable_hours) if refundable_hours.strip().isdigit() else -1,
                    auto_lock=auto_lock == "on",
                    lock_at_payment=lock_at_payment == "on",
                    ip=client_ip(request),
                )
    except DomainError as err:
        return _policy_page(request, session, principal, err.message, 422)
    return RedirectResponse("/console/policy", status_code=303)


def _fen(raw: str) -> int:
    text = raw.strip().replace(",", "")
    if not text or len(text) > 12 or not text.replace(".", "", 1).isdigit():
        return 0
    return money.yuan(text)

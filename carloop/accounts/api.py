"""Accounts JSON API: sign-in with a phone code or a password, sign-out, me, staff management."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status

from carloop.accounts import service
from carloop.accounts.edge import client_ip, code_sender, device_id, refusal
from carloop.accounts.schemas import (
    CodeIssuedRead,
    CodeRequest,
    CodeSignIn,
    MeRead,
    Principal,
    PrincipalRead,
    Role,
    StaffCreate,
    StaffRead,
    StaffSignIn,
    StaffUpdate,
    TokenRead,
)
from carloop.audit import service as audit
from carloop.errors import AuthenticationFailed, MessageNotSent, RateLimited
from carloop.web.deps import AppSettings, CurrentPrincipal, DbSession, require_roles, session_token

router = APIRouter(tags=["accounts"])

Admin = Annotated[Principal, require_roles(Role.ADMIN)]


@router.post(
    "/auth/code",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CodeIssuedRead,
    response_model_exclude_none=True,
)
def request_code(body: CodeRequest, request: Request, session: DbSession, settings: AppSettings) -> Any:
    """Send a one-time sign-in code to a phone (shown in the reply only in development page mode)."""
    try:
        issued = service.request_login_code(
            session=session,
            settings=settings,
            phone=body.phone,
            ip=client_ip(request),
            sender=code_sender(request),
            device=device_id(request),
            locale=request.state.locale,
        )
    except (RateLimited, MessageNotSent) as exc:
        return refusal(request, exc)
    return CodeIssuedRead(expires_in=issued.expires_in, dev_code=issued.dev_code)


@router.post("/auth/sign-in", response_model=TokenRead)
def sign_in(body: CodeSignIn, request: Request, session: DbSession, settings: AppSettings) -> Any:
    """Exchange a phone and its one-time code for a bearer token."""
    try:
        token, principal = service.sign_in_with_code(
            session=session,
            settings=settings,
            phone=body.phone,
            code=body.code,
            ip=client_ip(request),
            device=device_id(request),
        )
    except (AuthenticationFailed, RateLimited) as exc:
        return refusal(request, exc)
    return _token(token, principal, settings.session_ttl_hours)


@router.post("/auth/staff/sign-in", response_model=TokenRead)
def staff_sign_in(body: StaffSignIn, request: Request, session: DbSession, settings: AppSettings) -> Any:
    """Exchange a staff username and password for a bearer token."""
    try:
        token, principal = service.sign_in_staff(
            session=session,
            settings=settings,
            username=body.username,
            password=body.password,
            ip=client_ip(request),
            device=device_id(request),
        )
    except (AuthenticationFailed, RateLimited) as exc:
        return refusal(request, exc)
    return _token(token, principal, settings.session_ttl_hours)


@router.post("/auth/sign-out", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    """End the session of the token this request carries."""
    token = session_token(request)
    if token:
        service.sign_out(session=session, token=token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=MeRead)
def me(session: DbSession, principal: CurrentPrincipal) -> MeRead:
    """Who the token acts as, with their own phone or username."""
    read = MeRead.model_validate(principal)
    if principal.customer_id is not None:
        read.phone = service.get_customer(session=session, customer_id=principal.customer_id).phone
    elif principal.staff_id is not None:
        read.username = service.get_staff(session=session, staff_id=principal.staff_id).username
    return read


@router.get("/staff", response_model=list[StaffRead])
def list_staff(
    request: Request,
    session: DbSession,
    admin: Admin,
    role: Role | None = None,
    store_id: int | None = None,
    active: bool | None = None,
) -> list[StaffRead]:
    """Staff accounts (admin only; audited)."""
    found = service.list_staff(session=session, role=role, store_id=store_id, active=active)
    audit.record(
        session=session,
        principal=admin,
        action="staff.listed",
        target_type="staff",
        target_id="*",
        detail={"role": str(role) if role else None, "store_id": store_id, "results": len(found)},
        ip=client_ip(request),
    )
    return [StaffRead.model_validate(staff) for staff in found]


@router.post("/staff", status_code=status.HTTP_201_CREATED, response_model=StaffRead)
def create_staff(body: StaffCreate, request: Request, session: DbSession, admin: Admin) -> StaffRead:
    """Add a staff account (admin only; audited)."""
    staff = service.create_staff(
        session=session,
        actor=admin,
        username=body.username,
        display_name=body.display_name,
        password=body.password,
        role=body.role,
        store_id=body.store_id,
        ip=client_ip(request),
    )
    return StaffRead.model_validate(staff)


@router.patch("/staff/{staff_id}", response_model=StaffRead)
def update_staff(
    staff_id: int, body: StaffUpdate, request: Request, session: DbSession, admin: Admin
) -> StaffRead:
    """Change a staff account's role, store, active flag or name (admin only; audited)."""
    given = body.model_fields_set
    staff = service.update_staff(
        session=session,
        actor=admin,
        staff_id=staff_id,
        role=body.role if body.role is not None else service.UNSET,
        store_id=body.store_id if "store_id" in given else service.UNSET,
        active=body.active if body.active is not None else service.UNSET,
        display_name=body.display_name if body.display_name is not None else service.UNSET,
        ip=client_ip(request),
    )
    return StaffRead.model_validate(staff)


def _token(token: str, principal: Principal, ttl_hours: int) -> TokenRead:
    return TokenRead(
        token=token, expires_in=ttl_hours * 3600, principal=PrincipalRead.model_validate(principal)
    )

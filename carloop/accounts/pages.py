"""Accounts pages: phone-code sign-in, staff sign-in and sign-out, all working without JavaScript."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from carloop.accounts import rules, service
from carloop.accounts.edge import (
    check_login_csrf,
    client_ip,
    code_sender,
    ensure_device,
    login_csrf_token,
    remember_device,
)
from carloop.accounts.schemas import Role
from carloop.errors import AuthenticationFailed, DomainError, MessageNotSent, PermissionDenied, RateLimited
from carloop.settings import Settings
from carloop.web import problems
from carloop.web.deps import (
    SESSION_COOKIE,
    AppSettings,
    DbSession,
    OptionalPrincipal,
    check_csrf,
    session_token,
)
from carloop.web.i18n import translations

router = APIRouter()

NextQuery = Annotated[str, Query(alias="next", max_length=2000)]
NextForm = Annotated[str, Form(alias="next", max_length=2000)]
FormText = Annotated[str, Form(max_length=256)]


@router.get("/login")
def login_page(request: Request, principal: OptionalPrincipal, next_url: NextQuery = "/") -> Response:
    """The phone step of customer sign-in."""
    return _phone_step(request, next_url=next_url)


def _checked_phone(
    request: Request, settings: Settings, login_csrf: str, phone: str, next_url: str
) -> str | Response:
    """Both steps of phone sign-in start alike: this browser's anti-forgery token, then a mainland
    mobile number; the normalised number, or the phone step again with the reason."""
    try:
        check_login_csrf(request, settings, login_csrf)
    except PermissionDenied as exc:
        return _phone_step(request, next_url=next_url, phone_input=phone, refused=exc)
    normalised = rules.normalise_phone(phone)
    if normalised is None:
        message = _("Enter a mainland China mobile number (11 digits starting with 1).", request)
        return _phone_step(request, next_url=next_url, phone_input=phone, error=message, status_code=422)
    return normalised


@router.post("/login/code")
def send_code(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: OptionalPrincipal,
    phone: FormText = "",
    next_url: NextForm = "/",
    login_csrf: FormText = "",
) -> Response:
    """Send a one-time code and show the code step (or the phone step again with the reason)."""
    normalised = _checked_phone(request, settings, login_csrf, phone, next_url)
    if isinstance(normalised, Response):
        return normalised
    try:
        issued = service.request_login_code(
            session=session,
            settings=settings,
            phone=normalised,
            ip=client_ip(request),
            sender=code_sender(request),
            device=ensure_device(request),
            locale=request.state.locale,
        )
    except (RateLimited, MessageNotSent) as exc:
        return _phone_step(request, next_url=next_url, phone_input=phone, refused=exc)
    return _code_step(
        request, settings, next_url=next_url, phone=normalised, dev_code=issued.dev_code, status_code=200
    )


@router.post("/login")
def sign_in(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: OptionalPrincipal,
    phone: FormText = "",
    code: FormText = "",
    next_url: NextForm = "/",
    login_csrf: FormText = "",
) -> Response:
    """Check the code; on success set the session cookie and go to ``next`` (a local path) or home."""
    normalised = _checked_phone(request, settings, login_csrf, phone, next_url)
    if isinstance(normalised, Response):
        return normalised
    code = "".join(code.split())
    if not (len(code) == rules.CODE_DIGITS and code.isascii() and code.isdigit()):
        message = _("Enter the 6-digit code from the message.", request)
        return _code_step(
            request, settings, next_url=next_url, phone=normalised, error=message, status_code=422
        )
    try:
        token, _principal = service.sign_in_with_code(
            session=session,
            settings=settings,
            phone=normalised,
            code=code,
            ip=client_ip(request),
            device=ensure_device(request),
        )
    except (AuthenticationFailed, RateLimited) as exc:
        return _code_step(request, settings, next_url=next_url, phone=normalised, refused=exc)
    return _signed_in(settings, token, rules.safe_next(next_url))


@router.get("/staff/login")
def staff_login_page(
    request: Request, principal: OptionalPrincipal, next_url: NextQuery = rules.STAFF_HOME
) -> Response:
    """The staff sign-in form."""
    return _staff_form(request, next_url=next_url)


@router.post("/staff/login")
def staff_sign_in(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: OptionalPrincipal,
    username: FormText = "",
    password: FormText = "",
    next_url: NextForm = rules.STAFF_HOME,
    login_csrf: FormText = "",
) -> Response:
    """Check a staff password; on success set the session cookie and go on."""
    try:
        check_login_csrf(request, settings, login_csrf)
    except PermissionDenied as exc:
        return _staff_form(request, next_url=next_url, username=username, refused=exc)
    try:
        token, signed_in = service.sign_in_staff(
            session=session,
            settings=settings,
            username=username,
            password=password,
            ip=client_ip(request),
            device=ensure_device(request),
        )
    except (AuthenticationFailed, RateLimited) as exc:
        return _staff_form(request, next_url=next_url, username=username, refused=exc)
    return _signed_in(settings, token, rules.staff_next(next_url, supplier=signed_in.role == Role.SUPPLIER))


@router.post("/logout")
def logout(
    request: Request,
    session: DbSession,
    principal: OptionalPrincipal,
    csrf_token: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """End the session behind the cookie (the form must carry its anti-forgery token)."""
    token = session_token(request)
    if principal is not None and token:
        check_csrf(request, csrf_token)
        service.sign_out(session=session, token=token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _(message: str, request: Request, **values: Any) -> str:
    """``message`` in the request's language, with ``%(name)s`` values filled in."""
    text = translations(getattr(request.state, "locale", "en")).gettext(message)
    return text % values if values else text


def _explain(request: Request, exc: DomainError) -> str:
    if isinstance(exc, RateLimited):
        minutes = max(1, math.ceil(exc.retry_after / 60))
        return _("Too many attempts. Try again in %(minutes)s min.", request, minutes=minutes)
    message = _(exc.message, request)
    left = exc.data.get("attempts_left")
    if isinstance(left, int) and left > 0:
        message += " " + _("Tries left for this code: %(left)s.", request, left=left)
    return message


def _refused_status(exc: DomainError | None, status_code: int) -> tuple[int, dict[str, str] | None]:
    if exc is None:
        return status_code, None
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return problems.status_for(exc), headers


def _phone_step(
    request: Request,
    *,
    next_url: str,
    phone_input: str = "",
    error: str | None = None,
    refused: DomainError | None = None,
    status_code: int = 200,
) -> Response:
    status, headers = _refused_status(refused, status_code)
    context = {
        "step": "phone",
        "next_url": rules.safe_next(next_url),
        "phone_input": phone_input[:32],
        "error": _explain(request, refused) if refused is not None else error,
    }
    return _render(request, "accounts/login.html", context, status, headers)


def _code_step(
    request: Request,
    settings: Settings,
    *,
    next_url: str,
    phone: str,
    dev_code: str | None = None,
    error: str | None = None,
    refused: DomainError | None = None,
    status_code: int = 200,
) -> Response:
    status, headers = _refused_status(refused, status_code)
    context = {
        "step": "code",
        "next_url": rules.safe_next(next_url),
        "phone": phone,
        "masked_phone": rules.mask_phone(phone),
        "expires_minutes": max(1, settings.otp_ttl_seconds // 60),
        "dev_code": dev_code,
        "error": _explain(request, refused) if refused is not None else error,
    }
    return _render(request, "accounts/login.html", context, status, headers)


def _staff_form(
    request: Request, *, next_url: str, username: str = "", refused: DomainError | None = None
) -> Response:
    status, headers = _refused_status(refused, 200)
    context = {
        "next_url": rules.staff_next(next_url),
        "username": username[:40],
        "error": _explain(request, refused) if refused is not None else None,
    }
    return _render(request, "accounts/staff_login.html", context, status, headers)


def _render(
    request: Request, template: str, context: dict[str, Any], status: int, headers: dict[str, str] | None
) -> Response:
    settings: Settings = request.app.state.settings
    context["login_csrf"] = login_csrf_token(settings, ensure_device(request))
    response: Response = request.app.state.renderer.render(
        request, template, context, status_code=status, headers=headers
    )
    remember_device(request, response, settings)
    return response


def _signed_in(settings: Settings, token: str, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_ttl_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https://"),
    )
    return response

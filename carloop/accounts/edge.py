"""Small helpers the accounts API and pages share: who is calling, from which device, how codes go
out, refusals, and the anti-forgery token of the sign-in forms."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from fastapi import Request, Response

from carloop.accounts.senders import CodeSender, LogSender
from carloop.errors import DomainError, PermissionDenied, RateLimited
from carloop.settings import Settings
from carloop.web import problems

DEVICE_COOKIE = "carloop_device"  # a random id per browser: anti-forgery and per-device limits
DEVICE_HEADER = "x-carloop-device"  # apps send their install id here instead of a cookie
_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
FORGED = "The form expired or did not come from this site; reload the page and try again."


def client_ip(request: Request) -> str | None:
    """The caller's address as the server sees it (a proxy must set it through uvicorn's proxy headers)."""
    return request.client.host[:64] if request.client else None  # fits the ip columns


def code_sender(request: Request) -> CodeSender:
    """The sender plugged into the app (``app.state.code_sender``), else the log sender."""
    sender: CodeSender | None = getattr(request.app.state, "code_sender", None)
    return sender or LogSender()


def refusal(request: Request, exc: DomainError) -> Response:
    """The problem response for a refused sign-in, returned rather than raised so the attempt is kept."""
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    extra = {key: value for key, value in exc.data.items() if key != "retry_after"}
    return problems.problem(
        request, problems.status_for(exc), str(exc.code), exc.message, headers=headers, **extra
    )


def device_id(request: Request) -> str | None:
    """The caller's device id (the device cookie, or an app's ``X-Carloop-Device``), if well formed."""
    for raw in (request.cookies.get(DEVICE_COOKIE), request.headers.get(DEVICE_HEADER)):
        if raw and _DEVICE_ID.fullmatch(raw):
            return raw
    return None


def ensure_device(request: Request) -> str:
    """This browser's device id, minted (and remembered for ``remember_device``) on its first visit."""
    known = device_id(request) or getattr(request.state, "new_device", None)
    if known:
        return str(known)
    request.state.new_device = secrets.token_urlsafe(24)
    return str(request.state.new_device)


def remember_device(request: Request, response: Response, settings: Settings) -> None:
    """Set the device cookie on ``response`` if this request minted one."""
    minted = getattr(request.state, "new_device", None)
    if minted:
        response.set_cookie(
            DEVICE_COOKIE,
            minted,
            max_age=2 * 365 * 24 * 3600,
            path="/",
            httponly=True,
            samesite="lax",
            secure=settings.public_base_url.startswith("https://"),
        )


def login_csrf_token(settings: Settings, device: str) -> str:
    """The anti-forgery token of sign-in forms for one device: an HMAC of its cookie.

    A page on another site can make a browser post to ``/login`` but cannot read the device cookie,
    so it cannot compute this token: no signing a victim into the attacker's account (login CSRF).
    """
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"login-csrf:" + device.encode(), hashlib.sha256).hexdigest()[:32]


def check_login_csrf(request: Request, settings: Settings, submitted: str) -> None:
    """Refuse a sign-in form whose token does not match this browser's device cookie."""
    device = device_id(request)
    expected = login_csrf_token(settings, device) if device else ""
    if not expected or not submitted or not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise PermissionDenied(FORGED)

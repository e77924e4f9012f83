"""FastAPI dependencies: the transaction, the principal, and role checks."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Form, Request
from sqlalchemy.orm import Session

from carloop.accounts import identity as identities
from carloop.accounts import service as accounts
from carloop.accounts.schemas import Principal, Role
from carloop.errors import AuthenticationFailed, PermissionDenied
from carloop.settings import Settings

SESSION_COOKIE = "carloop_session"


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def public_base_url(request: Request) -> str:
    """The site's configured public address (``CARLOOP_PUBLIC_BASE_URL``) without a trailing slash.

    Links that leave the request (payment return and notify URLs, links in messages) are built from
    this, never from the request's Host header, which the caller chooses.
    """
    return get_settings(request).public_base_url.rstrip("/")


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent."""
    with request.app.state.sessions.begin() as session:
        request.state.db_session = session  # template helpers reuse it: one request, one transaction
        yield session


# scope="function" makes FastAPI close (commit) the dependency before it sends the response:
# an acknowledged change is a committed change.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]


def get_read_session(request: Request, primary: DbSession) -> Iterator[Session]:
    """A session for reports on the replica (``CARLOOP_READ_DATABASE_URL``), rolled back at the end;
    without a replica the request's own transaction (SQLite has one writer: a second would wait)."""
    if request.app.state.read_engine is None:
        yield primary
        return
    with request.app.state.read_sessions() as session:
        yield session


ReadSession = Annotated[Session, Depends(get_read_session, scope="function")]


def session_token(request: Request) -> str | None:
    """The bearer token, or for pages the session cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    if not request.url.path.startswith("/api/"):
        return request.cookies.get(SESSION_COOKIE)
    return None


def optional_principal(request: Request, session: DbSession) -> Principal | None:
    """The signed-in principal, or None for an anonymous request."""
    token = session_token(request)
    principal = accounts.resolve_session(session=session, token=token) if token else None
    request.state.principal = principal
    if principal is not None and token is not None:
        request.state.csrf_token = csrf_token_for(request.app.state.settings, token)
    return principal


def page_principal(request: Request) -> Principal | None:
    """The signed-in principal for a page's header, resolved once even where the route did not ask.

    Public pages (the storefront, the roadmap) and error pages render without ``optional_principal``;
    their header still has to show who is signed in. The request's own transaction is reused while it
    is open; otherwise (an error page after a rollback) a short read-only one is opened.
    """
    if hasattr(request.state, "principal"):
        found: Principal | None = request.state.principal
        return found
    if session_token(request) is None:
        request.state.principal = None
        return None
    session: Session | None = getattr(request.state, "db_session", None)
    if session is not None and session.in_transaction():
        return optional_principal(request, session)
    with request.app.state.sessions() as fresh:
        try:
            return optional_principal(request, fresh)
        finally:
            fresh.rollback()


def require_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    """Any signed-in principal; 401 otherwise."""
    if principal is None:
        raise AuthenticationFailed("Sign in first.")
    return principal


def require_customer(principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    """A signed-in customer; staff get 403."""
    if principal.role is not Role.CUSTOMER or principal.customer_id is None:
        raise PermissionDenied("This is for customers.")
    return principal


def require_staff(principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    """A signed-in staff member of any role."""
    if not principal.is_staff:
        raise PermissionDenied("This is for staff.")
    return principal


def require_roles(*roles: Role) -> object:
    """A dependency admitting only the given staff roles."""

    def _check(principal: Annotated[Principal, Depends(require_staff)]) -> Principal:
        if principal.role not in roles:
            raise PermissionDenied(f"This needs one of the roles: {', '.join(roles)}.")
        return principal

    return Depends(_check)


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
CurrentCustomer = Annotated[Principal, Depends(require_customer)]
CurrentStaff = Annotated[Principal, Depends(require_staff)]


def require_form_customer(
    request: Request,
    principal: Annotated[Principal, Depends(require_customer)],
    csrf_token: Annotated[str, Form()],
) -> Principal:
    """A signed-in customer submitting a page form that carries this session's anti-forgery token."""
    check_csrf(request, csrf_token)
    return principal


FormCustomer = Annotated[Principal, Depends(require_form_customer)]


def require_form_staff(
    request: Request,
    principal: Annotated[Principal, Depends(require_staff)],
    csrf_token: Annotated[str, Form()],
) -> Principal:
    """A signed-in staff member submitting a page form that carries this session's anti-forgery token."""
    check_csrf(request, csrf_token)
    return principal


FormStaff = Annotated[Principal, Depends(require_form_staff)]


def csrf_token_for(settings: Settings, token: str) -> str:
    """The anti-forgery token for forms of one session (an HMAC of its token)."""
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()[:32]


def csrf_matches(request: Request, submitted: str | None) -> bool:
    """Whether a form's anti-forgery token is this request's session's (before the session is resolved)."""
    token = session_token(request)
    if not token or not submitted:
        return False
    return hmac.compare_digest(csrf_token_for(get_settings(request), token).encode(), submitted.encode())


def identify_first(request: Request, *, id_number: str, real_name: str | None) -> identities.Identified:
    """The request's principal and, for a customer, the verified hash of ``id_number``, asked of the
    real-name verifier with no connection held (``identity.identify_before_writing``).

    A dependency calling this must come before ``DbSession`` (and the principal dependencies that open
    it) in the route's signature: FastAPI solves dependencies in that order, and the point is that the
    request's write transaction is not open yet while the provider answers. Nobody signed in: nothing
    is verified (the route's own dependency then answers 401).
    """
    token = session_token(request)
    if token is None:
        return identities.Identified(None, None)
    return identities.identify_before_writing(
        sessions=request.app.state.sessions,
        token=token,
        name=real_name or "",
        id_number=id_number,
        verifier=request.app.state.realname_verifier,
        identity_key=get_settings(request).secret_key.get_secret_value().encode(),
    )


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a page form whose anti-forgery token is missing or wrong."""
    expected = getattr(request.state, "csrf_token", None)
    if not expected or not submitted or not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise PermissionDenied(
            "The form expired or did not come from this site; reload the page and try again."
        )

"""Accounts use cases: phone-code and password sign-in, sessions, customers and staff accounts.

Sign-in attempts are counted even when they fail. A failing call flushes its counters and then
raises; the caller commits the session before turning the error into a response (``api.py`` and
``pages.py`` do), otherwise a rolled-back transaction would forget the attempt.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carloop.accounts import ratelimit, rules
from carloop.accounts import staff as staff_accounts
from carloop.accounts.events import CustomerSignedIn
from carloop.accounts.models import Customer, LoginCode, PrincipalKind, SessionToken, Staff
from carloop.accounts.schemas import CodeIssued, Principal, Role
from carloop.accounts.senders import CodeSender, LogSender

# Staff account management lives in staff.py; it is part of this module's surface too.
from carloop.accounts.staff import (
    UNSET,
    create_staff,
    find_staff,
    get_staff,
    list_staff,
    set_role,
    update_staff,
)
from carloop.audit import service as audit
from carloop.clock import utcnow
from carloop.errors import AuthenticationFailed, NotFound, PolicyViolation
from carloop.outbox import service as outbox
from carloop.settings import Settings

__all__ = [
    "UNSET",
    "create_staff",
    "find_staff",
    "get_customer",
    "get_or_create_customer",
    "get_staff",
    "list_staff",
    "request_login_code",
    "resolve_session",
    "resolve_sessions",
    "set_role",
    "sign_in_staff",
    "sign_in_with_code",
    "sign_out",
    "start_session",
    "update_staff",
]

WRONG_PASSWORD = "Wrong username or password."  # noqa: S105 - a message, not a password
NO_CODE = "There is no code waiting for this number. Ask for a new code."
CODE_REPLACED = "This code was already used or replaced by a newer one. Ask for a new code."
CODE_EXPIRED = "This code has expired. Ask for a new code."
CODE_EXHAUSTED = "Too many wrong codes. Ask for a new code."
WRONG_CODE = "That code is not right. Check the message and try again."


def _bad_phone() -> PolicyViolation:
    return PolicyViolation("Enter a mainland China mobile number (11 digits starting with 1).", field="phone")


# --- customers and one-time codes ------------------------------------------------------------


def request_login_code(
    *,
    session: Session,
    settings: Settings,
    phone: str,
    ip: str | None,
    sender: CodeSender | None = None,
    now: datetime | None = None,
    device: str | None = None,
    locale: str = "zh_CN",
) -> CodeIssued:
    """Send a fresh one-time code to ``phone`` (backing off per phone and device; a high ceiling per ip).

    The code is sent before it is stored: if the provider refuses, the phone's previous code stays
    live and the sender's error (``MessageNotSent``, ``RateLimited``) reaches the caller."""
    now = now or utcnow()
    normalised = rules.normalise_phone(phone)
    if normalised is None:
        raise _bad_phone()
    key = "code:" + ratelimit.scope_key(session=session, kind="phone", account=normalised, device=device)
    ratelimit.guard(session=session, key=key, now=now)
    _ceiling(session, settings, f"code:ip:{ip}" if ip else None, settings.otp_requests_per_ip_window, now)
    _count(session, settings, key, settings.otp_requests_per_window, now)
    code = rules.new_code()
    session.flush()  # the counters stay counted even if the sender refuses
    (sender or LogSender()).send(
        session=session, phone=normalised, code=code, ttl_seconds=settings.otp_ttl_seconds, locale=locale
    )
    # Only the newest code of a phone is live.
    session.execute(
        update(LoginCode)
        .where(LoginCode.phone == normalised, LoginCode.consumed_at.is_(None))
        .values(consumed_at=now)
    )
    expires_at = now + timedelta(seconds=settings.otp_ttl_seconds)
    session.add(
        LoginCode(
            phone=normalised,
            code_hash=rules.code_digest(_secret(settings), normalised, code),
            created_at=now,
            expires_at=expires_at,
            ip=ip,
        )
    )
    session.flush()
    show = settings.shows_codes
    return CodeIssued(
        phone=normalised,
        expires_at=expires_at,
        expires_in=settings.otp_ttl_seconds,
        dev_code=code if show else None,
    )


def sign_in_with_code(
    *,
    session: Session,
    settings: Settings,
    phone: str,
    code: str,
    ip: str | None,
    now: datetime | None = None,
    device: str | None = None,
) -> tuple[str, Principal]:
    """Check the code sent to ``phone`` and open a session, creating the customer on first sign-in.

    Wrong codes back off this phone on this device (or on unknown devices), never the owner's own.
    """
    now = now or utcnow()
    normalised = rules.normalise_phone(phone)
    if normalised is None:
        raise _bad_phone()
    scope = ratelimit.scope_key(session=session, kind="phone", account=normalised, device=device)
    key = "signin:" + scope
    ratelimit.guard(session=session, key=key, now=now)
    _ceiling(session, settings, f"signin:ip:{ip}" if ip else None, settings.login_attempts_per_ip_window, now)
    row = session.scalars(
        select(LoginCode)
        .where(LoginCode.phone == normalised)
        .order_by(LoginCode.created_at.desc(), LoginCode.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        raise AuthenticationFailed(NO_CODE)
    state = rules.code_state(
        expires_at=row.expires_at, attempts=row.attempts, consumed=row.consumed_at is not None, now=now
    )
    if state is not rules.CodeState.USABLE:
        message = {
            rules.CodeState.CONSUMED: CODE_REPLACED,
            rules.CodeState.EXPIRED: CODE_EXPIRED,
            rules.CodeState.EXHAUSTED: CODE_EXHAUSTED,
        }[state]
        raise AuthenticationFailed(message)
    usable = (
        LoginCode.id == row.id,
        LoginCode.consumed_at.is_(None),
        LoginCode.attempts < rules.CODE_MAX_ATTEMPTS,
        LoginCode.expires_at > now,
    )
    if not hmac.compare_digest(rules.code_digest(_secret(settings), normalised, code), row.code_hash):
        session.execute(update(LoginCode).where(*usable).values(attempts=LoginCode.attempts + 1))
        session.flush()
        session.refresh(row)
        _count(session, settings, key, settings.login_attempts_per_window, now)
        left = max(0, rules.CODE_MAX_ATTEMPTS - row.attempts)
        raise AuthenticationFailed(WRONG_CODE if left else CODE_EXHAUSTED, attempts_left=left)
    consumed = session.execute(update(LoginCode).where(*usable).values(consumed_at=now))
    if getattr(consumed, "rowcount", 0) != 1:  # another request used it a moment ago
        raise AuthenticationFailed(CODE_REPLACED)
    for done in (key, "code:" + scope):
        ratelimit.succeed(session=session, kind="phone", account=normalised, key=done, device=device, now=now)
    customer = get_or_create_customer(session=session, phone=normalised, now=now)
    session.flush()
    outbox.publish(session=session, event=CustomerSignedIn(customer_id=customer.id, phone=normalised))
    return start_session(session=session, settings=settings, customer=customer, ip=ip, now=now)


def find_customer(*, session: Session, phone: str) -> Customer | None:
    """The customer with this phone (in any common spelling), or None."""
    normalised = rules.normalise_phone(phone)
    if normalised is None:
        return None
    return session.scalars(select(Customer).where(Customer.phone == normalised)).one_or_none()


def get_or_create_customer(*, session: Session, phone: str, now: datetime | None = None) -> Customer:
    """The customer with this phone, created (named after the masked number) if new."""
    normalised = rules.normalise_phone(phone)
    if normalised is None:
        raise _bad_phone()
    existing = find_customer(session=session, phone=normalised)
    if existing is not None:
        return existing
    customer = Customer(
        phone=normalised, display_name=rules.mask_phone(normalised), created_at=now or utcnow()
    )
    try:
        with session.begin_nested():
            session.add(customer)
    except IntegrityError:  # created by a concurrent sign-in
        found = find_customer(session=session, phone=normalised)
        if found is None:
            raise
        return found
    return customer


def get_customer(*, session: Session, customer_id: int) -> Customer:
    """The customer with this id; ``NotFound`` if there is none."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("No such customer.", customer_id=customer_id)
    return customer


# --- sessions --------------------------------------------------------------------------------


def start_session(
    *,
    session: Session,
    settings: Settings,
    customer: Customer | None = None,
    staff: Staff | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> tuple[str, Principal]:
    """Open a session for a customer or a staff member; returns the bearer token (shown once)."""
    if (customer is None) == (staff is None):
        raise ValueError("a session belongs to exactly one customer or one staff member")
    now = now or utcnow()
    token = rules.new_token()
    row = SessionToken(
        token_hash=rules.token_digest(token),
        kind=PrincipalKind.CUSTOMER if customer is not None else PrincipalKind.STAFF,
        customer_id=customer.id if customer is not None else None,
        staff_id=staff.id if staff is not None else None,
        created_at=now,
        expires_at=now + timedelta(hours=settings.session_ttl_hours),
        ip=ip,
    )
    session.add(row)
    session.flush()
    principal = _customer_principal(customer, row.id) if customer else _staff_principal(staff, row.id)
    assert principal is not None
    return token, principal


def resolve_session(*, session: Session, token: str, now: datetime | None = None) -> Principal | None:
    """The principal behind a session token, or None if it is unknown, expired or revoked."""
    if not token or len(token) > 256:
        return None
    row = session.scalars(
        select(SessionToken).where(SessionToken.token_hash == rules.token_digest(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= (now or utcnow()):
        return None
    if row.kind is PrincipalKind.CUSTOMER and row.customer_id is not None:
        return _customer_principal(session.get(Customer, row.customer_id), row.id)
    if row.staff_id is not None:
        staff = session.get(Staff, row.staff_id)
        if staff is not None and staff.active:
            return _staff_principal(staff, row.id)
    return None


_tokens, _customers, _staff = (cast(Table, m.__table__) for m in (SessionToken, Customer, Staff))
_SESSIONS_BY_DIGEST = (
    select(
        _tokens.c.token_hash,
        _tokens.c.id,
        _tokens.c.kind,
        _tokens.c.expires_at,
        _customers.c.id,
        _customers.c.display_name,
        _staff.c.id,
        _staff.c.role,
        _staff.c.store_id,
        _staff.c.display_name,
        _staff.c.active,
    )
    .select_from(
        _tokens.outerjoin(_customers, _customers.c.id == _tokens.c.customer_id).outerjoin(
            _staff, _staff.c.id == _tokens.c.staff_id
        )
    )
    .where(
        _tokens.c.token_hash.in_(bindparam("digests", expanding=True)),
        _tokens.c.revoked_at.is_(None),
    )
)  # built once: a batch of tokens costs one cached statement, not a compile


def resolve_sessions(
    *, session: Session, tokens: Iterable[str], now: datetime | None = None
) -> dict[str, Principal]:
    """The principals behind many session tokens in one query; unknown, expired or revoked ones are left out.

    The same answer per token as ``resolve_session``, for callers that authenticate a whole batch of
    requests at once (the launch intake's group commit) instead of caching tokens.
    """
    by_digest = {rules.token_digest(t): t for t in tokens if t and len(t) <= 256}
    if not by_digest:
        return {}
    rows = session.connection().execute(_SESSIONS_BY_DIGEST, {"digests": list(by_digest)})
    moment = now or utcnow()
    found: dict[str, Principal] = {}
    for (
        digest,
        session_id,
        kind,
        expires_at,
        customer_id,
        name,
        staff_id,
        role,
        store_id,
        staff_name,
        active,
    ) in rows:
        if expires_at <= moment:
            continue
        if kind == PrincipalKind.CUSTOMER and customer_id is not None:
            found[by_digest[digest]] = Principal(
                role=Role.CUSTOMER, customer_id=customer_id, display_name=name, session_id=session_id
            )
        elif staff_id is not None and active:
            found[by_digest[digest]] = Principal(
                role=Role(role),
                staff_id=staff_id,
                store_id=store_id,
                display_name=staff_name,
                session_id=session_id,
            )
    return found


def sign_out(*, session: Session, token: str, now: datetime | None = None) -> None:
    """End the session of ``token`` (signing out twice is harmless)."""
    session.execute(
        update(SessionToken)
        .where(SessionToken.token_hash == rules.token_digest(token), SessionToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )


def purge_expired(*, session: Session, now: datetime | None = None) -> int:
    """Delete long-dead codes, sessions and rate counters; returns how many rows went."""
    cutoff = (now or utcnow()) - timedelta(days=1)
    gone = ratelimit.prune(session=session, before=cutoff)
    for statement in (
        delete(LoginCode).where(LoginCode.expires_at < cutoff),
        delete(SessionToken).where(SessionToken.expires_at < cutoff - timedelta(days=30)),
    ):
        gone += int(getattr(session.execute(statement), "rowcount", 0) or 0)
    return gone


def _customer_principal(customer: Customer | None, session_id: int) -> Principal | None:
    if customer is None:
        return None
    return Principal(
        role=Role.CUSTOMER, customer_id=customer.id, display_name=customer.display_name, session_id=session_id
    )


def _staff_principal(staff: Staff | None, session_id: int) -> Principal | None:
    if staff is None:
        return None
    return Principal(
        role=staff.role,
        staff_id=staff.id,
        store_id=staff.store_id,
        display_name=staff.display_name,
        session_id=session_id,
    )


def _ceiling(session: Session, settings: Settings, key: str | None, limit: int, now: datetime) -> None:
    """Count one request against a per-address ceiling (skipped when the address is unknown)."""
    if key is not None:
        ratelimit.hit(
            session=session, keys=[key], limit=limit, window_seconds=settings.rate_window_seconds, now=now
        )


def _count(session: Session, settings: Settings, key: str, free: int, now: datetime) -> None:
    """Count one attempt against a back-off key."""
    ratelimit.fail(
        session=session,
        key=key,
        now=now,
        free=free,
        base_seconds=settings.backoff_base_seconds,
        cap_seconds=settings.rate_window_seconds,
    )


def _secret(settings: Settings) -> bytes:
    return settings.secret_key.get_secret_value().encode()


# --- staff sign-in -----------------------------------------------------------------------------------


def sign_in_staff(
    *,
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    ip: str | None,
    now: datetime | None = None,
    device: str | None = None,
) -> tuple[str, Principal]:
    """Check a staff password and open a session.

    Wrong passwords back off this username on this device (or on unknown devices): strangers cannot
    lock a staff member out of the browser they always use. A high ceiling per ip stops floods.
    """
    now = now or utcnow()
    name = rules.normalise_username(username)
    who = name or username.strip().lower()[:40]
    key = ratelimit.scope_key(session=session, kind="staff", account=who, device=device)
    ratelimit.guard(session=session, key=key, now=now)
    _ceiling(session, settings, f"staff:ip:{ip}" if ip else None, settings.login_attempts_per_ip_window, now)
    account = staff_accounts.check_password(session=session, username=name or "", password=password)
    if account is None:
        _count(session, settings, key, settings.login_attempts_per_window, now)
        raise AuthenticationFailed(WRONG_PASSWORD)
    ratelimit.succeed(session=session, kind="staff", account=who, key=key, device=device, now=now)
    token, principal = start_session(session=session, settings=settings, staff=account, ip=ip, now=now)
    audit.record(
        session=session,
        principal=principal,
        action="staff.signed_in",
        target_type="staff",
        target_id=account.id,
        ip=ip,
    )
    return token, principal

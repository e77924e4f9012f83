"""Pure rules of accounts: phone numbers, codes, tokens, rate windows and redirects."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from enum import StrEnum

CODE_DIGITS = 6
CODE_MAX_ATTEMPTS = 5  # wrong tries one code survives before it is burnt
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
DISPLAY_NAME_MAX_LENGTH = 60

_MAINLAND_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_PHONE_DECORATION = re.compile(r"[\s\-().]")
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,39}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def normalise_phone(raw: str) -> str | None:
    """A mainland mobile number as ``+86`` and 11 digits, or None if ``raw`` is not one."""
    text = _PHONE_DECORATION.sub("", unicodedata.normalize("NFKC", raw))
    for prefix in ("+86", "0086", "86"):
        if text.startswith(prefix) and len(text) == len(prefix) + 11:
            text = text.removeprefix(prefix)
            break
    if not _MAINLAND_MOBILE.fullmatch(text):
        return None
    return "+86" + text


def mask_phone(phone: str) -> str:
    """A normalised phone with its middle hidden: ``138****8000``."""
    digits = phone.removeprefix("+86")
    return f"{digits[:3]}****{digits[-4:]}"


def normalise_username(raw: str) -> str | None:
    """A staff username in lower case (2-40 of ``a-z 0-9 . _ -``), or None if it is not valid."""
    name = raw.strip().lower()
    return name if _USERNAME.fullmatch(name) else None


def password_problem(password: str) -> str | None:
    """Why a new staff password is not acceptable, or None if it is."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"A password needs at least {PASSWORD_MIN_LENGTH} characters."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"A password has at most {PASSWORD_MAX_LENGTH} characters."
    if password.strip() != password or not password.strip():
        return "A password may not start or end with spaces."
    return None


def new_code() -> str:
    """A fresh one-time code of six random digits."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(secret: bytes, phone: str, code: str) -> str:
    """The keyed hash a code is stored as (a bare hash of six digits would be reversible)."""
    return hmac.new(secret, f"login-code:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    """A fresh bearer token for a session."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The SHA-256 hash a session token is stored as."""
    return hashlib.sha256(token.encode()).hexdigest()


class CodeState(StrEnum):
    """Whether a stored one-time code can still be tried."""

    USABLE = "usable"  # not used, not expired, tries left
    CONSUMED = "consumed"  # already used to sign in, or replaced by a newer code
    EXPIRED = "expired"  # its time ran out
    EXHAUSTED = "exhausted"  # too many wrong tries


def code_state(*, expires_at: datetime, attempts: int, consumed: bool, now: datetime) -> CodeState:
    """The state of a one-time code at ``now``."""
    if consumed:
        return CodeState.CONSUMED
    if now >= expires_at:
        return CodeState.EXPIRED
    if attempts >= CODE_MAX_ATTEMPTS:
        return CodeState.EXHAUSTED
    return CodeState.USABLE


def window_start(now: datetime, window_seconds: int) -> datetime:
    """The start of the fixed rate-limit window that ``now`` falls in (aligned to the epoch)."""
    elapsed = (now - _EPOCH) // timedelta(seconds=window_seconds)
    return _EPOCH + timedelta(seconds=elapsed * window_seconds)


def retry_after(now: datetime, start: datetime, window_seconds: int) -> int:
    """Whole seconds (at least 1) until the window that began at ``start`` ends."""
    remaining = (start + timedelta(seconds=window_seconds) - now).total_seconds()
    return max(1, math.ceil(remaining))


def safe_next(raw: str | None, default: str = "/") -> str:
    """``raw`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not raw or not raw.startswith("/") or raw.startswith(("//", "/\\")):
        return default
    if any(ch in raw for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in raw):
        return default
    return raw


STAFF_HOME = "/console"
SUPPLIER_HOME = "/supplier"


def staff_next(raw: str | None, *, supplier: bool = False) -> str:
    """Where staff go after signing in: ``raw`` if it is a page of this site other than the storefront's
    front page, else the console (landing on ``/`` looks as if the sign-in had failed). A supplier's
    user goes to the supplier portal unless ``raw`` is one of its pages (the console would refuse)."""
    home = SUPPLIER_HOME if supplier else STAFF_HOME
    target = safe_next(raw, home)
    path = target.split("?")[0]
    in_portal = path == SUPPLIER_HOME or path.startswith(SUPPLIER_HOME + "/")
    return home if target == "/" or (supplier and not in_portal) else target


def backoff_seconds(failures: int, *, free: int, base_seconds: int, cap_seconds: int) -> int:
    """How long to wait after ``failures`` attempts: nothing for the first ``free``, then ``base``
    doubling with each further attempt, never more than ``cap`` (a delay, never a lock)."""
    if failures < free:
        return 0
    return int(min(cap_seconds, base_seconds * 2 ** min(failures - free, 32)))


def device_digest(device: str) -> str:
    """A short hash of a device id, so keys and rows never hold the id itself."""
    return hashlib.sha256(b"device:" + device.encode()).hexdigest()[:32]

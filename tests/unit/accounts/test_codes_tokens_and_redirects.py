"""One-time codes, session tokens, staff credentials and where sign-in may redirect to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carloop.accounts.rules import (
    CODE_MAX_ATTEMPTS,
    CodeState,
    code_digest,
    code_state,
    new_code,
    new_token,
    normalise_username,
    password_problem,
    safe_next,
    staff_next,
    token_digest,
)

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def test_codes_are_six_random_digits() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150


def test_code_digest_depends_on_key_phone_and_code() -> None:
    digest = code_digest(b"k", "+8613800138000", "123456")
    assert digest != code_digest(b"other", "+8613800138000", "123456")
    assert digest != code_digest(b"k", "+8613900139000", "123456")
    assert digest != code_digest(b"k", "+8613800138000", "123457")
    assert "123456" not in digest


def test_tokens_are_long_and_stored_as_sha256() -> None:
    token = new_token()
    assert len(token) >= 43
    assert token_digest(token) != token
    assert len(token_digest(token)) == 64


@pytest.mark.parametrize(
    ("attempts", "consumed", "now", "state"),
    [
        (0, False, NOW, CodeState.USABLE),
        (CODE_MAX_ATTEMPTS - 1, False, NOW, CodeState.USABLE),
        (CODE_MAX_ATTEMPTS, False, NOW, CodeState.EXHAUSTED),
        (0, False, LATER, CodeState.EXPIRED),
        (0, True, NOW, CodeState.CONSUMED),
        (CODE_MAX_ATTEMPTS, True, LATER, CodeState.CONSUMED),
    ],
)
def test_code_state(attempts: int, consumed: bool, now: datetime, state: CodeState) -> None:
    assert code_state(expires_at=LATER, attempts=attempts, consumed=consumed, now=now) is state


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("admin", "admin"),
        (" Store1 ", "store1"),
        ("li.wei-2", "li.wei-2"),
        ("a", None),
        ("x y", None),
        ("", None),
    ],
)
def test_usernames_are_lower_case_and_plain(typed: str, name: str | None) -> None:
    assert normalise_username(typed) == name


def test_short_passwords_are_refused() -> None:
    assert password_problem("short") is not None
    assert password_problem(" padded-password ") is not None
    assert password_problem("a-long-enough-password") is None


@pytest.mark.parametrize(
    ("raw", "target"),
    [
        ("/orders", "/orders"),
        ("/orders/CL-1?tab=timeline", "/orders/CL-1?tab=timeline"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_only_local_paths_are_redirect_targets(raw: str | None, target: str) -> None:
    assert safe_next(raw) == target


@pytest.mark.parametrize(
    ("raw", "supplier", "target"),
    [
        ("/staff/orders", False, "/staff/orders"),
        ("/", False, "/console"),
        ("https://evil.example/", False, "/console"),
        ("/console", True, "/supplier"),  # the console would refuse a supplier's user
        ("/", True, "/supplier"),
        ("/supplier", True, "/supplier"),
        ("/supplier/forecast?week=3", True, "/supplier/forecast?week=3"),
        ("/supplierx", True, "/supplier"),
        ("//evil.example/supplier", True, "/supplier"),
    ],
)
def test_staff_land_in_the_console_and_suppliers_in_their_portal(
    raw: str, supplier: bool, target: str
) -> None:
    assert staff_next(raw, supplier=supplier) == target

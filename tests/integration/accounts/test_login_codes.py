"""Customers sign in with a one-time code: issue, verify, expiry, attempts, replacement."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.accounts import rules, service
from carloop.accounts.models import Customer, LoginCode
from carloop.accounts.schemas import Role
from carloop.accounts.senders import MemorySender
from carloop.clock import utcnow
from carloop.errors import AuthenticationFailed, PolicyViolation
from carloop.settings import Settings

from .conftest import PHONE


def _issue(
    session: Session,
    settings: Settings,
    sender: MemorySender,
    phone: str = PHONE,
    now: datetime | None = None,
) -> str:
    service.request_login_code(
        session=session, settings=settings, phone=phone, ip="10.0.0.1", sender=sender, now=now
    )
    return sender.last_code(rules.normalise_phone(phone) or phone)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_code_goes_to_the_sender_and_to_the_page_in_development(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    issued = service.request_login_code(
        session=session, settings=settings, phone="138 0013 8000", ip="10.0.0.1", sender=sender
    )
    assert sender.sent == [(PHONE, issued.dev_code)]
    assert issued.phone == PHONE
    assert issued.expires_in == settings.otp_ttl_seconds


def test_code_is_not_shown_when_the_sender_is_the_log(
    session: Session, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    log_settings = settings.model_copy(update={"otp_sender": "log"})
    with caplog.at_level(logging.INFO, logger="carloop.accounts"):
        issued = service.request_login_code(session=session, settings=log_settings, phone=PHONE, ip=None)
    assert issued.dev_code is None
    assert any(PHONE in r.getMessage() and r.name == "carloop.accounts" for r in caplog.records)


def test_code_is_stored_only_as_a_keyed_hash(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    code = _issue(session, settings, sender)
    row = session.scalars(select(LoginCode)).one()
    assert code not in row.code_hash
    assert row.code_hash == rules.code_digest(settings.secret_key.get_secret_value().encode(), PHONE, code)


def test_first_sign_in_creates_the_customer_and_later_ones_reuse_it(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    code = _issue(session, settings, sender)
    token, principal = service.sign_in_with_code(
        session=session, settings=settings, phone=PHONE, code=code, ip=None
    )
    assert principal.role is Role.CUSTOMER
    assert principal.display_name == "138****8000"
    assert service.resolve_session(session=session, token=token) == principal

    code = _issue(session, settings, sender, phone="13800138000")
    _, again = service.sign_in_with_code(
        session=session, settings=settings, phone="138-0013-8000", code=code, ip=None
    )
    assert again.customer_id == principal.customer_id
    assert session.scalar(select(func.count()).select_from(Customer)) == 1


def test_a_code_signs_in_only_once(session: Session, settings: Settings, sender: MemorySender) -> None:
    code = _issue(session, settings, sender)
    service.sign_in_with_code(session=session, settings=settings, phone=PHONE, code=code, ip=None)
    with pytest.raises(AuthenticationFailed, match="already used"):
        service.sign_in_with_code(session=session, settings=settings, phone=PHONE, code=code, ip=None)


def test_wrong_code_is_refused_with_the_tries_left(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    code = _issue(session, settings, sender)
    with pytest.raises(AuthenticationFailed, match="not right") as refused:
        service.sign_in_with_code(session=session, settings=settings, phone=PHONE, code=_wrong(code), ip=None)
    assert refused.value.data["attempts_left"] == rules.CODE_MAX_ATTEMPTS - 1
    assert session.scalars(select(LoginCode.attempts)).one() == 1


def test_a_code_is_burnt_after_too_many_wrong_tries(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    roomy = settings.model_copy(update={"login_attempts_per_window": 100})
    code = _issue(session, roomy, sender)
    for _ in range(rules.CODE_MAX_ATTEMPTS):
        with pytest.raises(AuthenticationFailed):
            service.sign_in_with_code(
                session=session, settings=roomy, phone=PHONE, code=_wrong(code), ip=None
            )
    with pytest.raises(AuthenticationFailed, match="Too many wrong codes"):
        service.sign_in_with_code(session=session, settings=roomy, phone=PHONE, code=code, ip=None)


def test_an_expired_code_is_refused(session: Session, settings: Settings, sender: MemorySender) -> None:
    issued_at = utcnow() - timedelta(seconds=settings.otp_ttl_seconds + 1)
    code = _issue(session, settings, sender, now=issued_at)
    with pytest.raises(AuthenticationFailed, match="expired"):
        service.sign_in_with_code(session=session, settings=settings, phone=PHONE, code=code, ip=None)


def test_a_new_code_replaces_the_old_one(session: Session, settings: Settings, sender: MemorySender) -> None:
    first = _issue(session, settings, sender)
    second = _issue(session, settings, sender)
    if first != second:
        with pytest.raises(AuthenticationFailed):
            service.sign_in_with_code(session=session, settings=settings, phone=PHONE, code=first, ip=None)
    _, principal = service.sign_in_with_code(
        session=session, settings=settings, phone=PHONE, code=second, ip=None
    )
    assert principal.customer_id is not None


def test_signing_in_without_asking_for_a_code_is_refused(session: Session, settings: Settings) -> None:
    with pytest.raises(AuthenticationFailed, match="no code"):
        service.sign_in_with_code(session=session, settings=settings, phone=PHONE, code="123456", ip=None)


def test_a_code_for_one_phone_does_not_open_another(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    code = _issue(session, settings, sender)
    _issue(session, settings, sender, phone="13900139000")
    other = sender.last_code("+8613900139000")
    if other != code:
        with pytest.raises(AuthenticationFailed):
            service.sign_in_with_code(
                session=session, settings=settings, phone="13900139000", code=code, ip=None
            )


def test_bad_phone_numbers_are_a_policy_violation_naming_the_field(
    session: Session, settings: Settings
) -> None:
    with pytest.raises(PolicyViolation) as refused:
        service.request_login_code(session=session, settings=settings, phone="12345", ip=None)
    assert refused.value.data["field"] == "phone"

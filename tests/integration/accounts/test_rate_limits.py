"""Rate limits live in the database: the sixth attempt in a window is refused with a retry time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.accounts import ratelimit, service
from carloop.accounts.models import RateCounter
from carloop.accounts.rules import window_start
from carloop.accounts.senders import MemorySender
from carloop.errors import AuthenticationFailed, RateLimited
from carloop.settings import Settings

from .conftest import PASSWORD, PHONE, make_staff

# The middle of a 15-minute window, so six quick attempts never straddle two windows.
NOW = datetime(2030, 6, 1, 8, 7, 30, tzinfo=UTC)


def test_bump_counts_per_key_and_window_in_the_database(session: Session) -> None:
    counts = [ratelimit.bump(session=session, key="k", window_seconds=900, now=NOW) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert ratelimit.bump(session=session, key="other", window_seconds=900, now=NOW) == 1
    assert ratelimit.bump(session=session, key="k", window_seconds=900, now=NOW + timedelta(minutes=15)) == 1
    rows = session.execute(select(RateCounter.key, RateCounter.window_start, RateCounter.count)).all()
    assert (("k", window_start(NOW, 900), 3)) in [tuple(r) for r in rows]


def test_the_sixth_code_request_for_a_phone_is_refused_with_retry_after(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    assert settings.otp_requests_per_window == 5
    for n in range(5):
        service.request_login_code(
            session=session, settings=settings, phone=PHONE, ip=f"10.0.0.{n}", sender=sender, now=NOW
        )
    with pytest.raises(RateLimited) as refused:
        service.request_login_code(
            session=session, settings=settings, phone=PHONE, ip="10.0.0.9", sender=sender, now=NOW
        )
    assert refused.value.retry_after == 450
    assert len(sender.sent) == 5


def test_code_requests_are_also_limited_per_ip(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    for n in range(5):
        service.request_login_code(
            session=session, settings=settings, phone=f"1380013800{n}", ip="10.9.9.9", sender=sender, now=NOW
        )
    with pytest.raises(RateLimited):
        service.request_login_code(
            session=session, settings=settings, phone="13900139000", ip="10.9.9.9", sender=sender, now=NOW
        )


def test_the_next_window_accepts_again(session: Session, settings: Settings, sender: MemorySender) -> None:
    for _ in range(5):
        service.request_login_code(
            session=session, settings=settings, phone=PHONE, ip=None, sender=sender, now=NOW
        )
    later = NOW + timedelta(seconds=450)
    issued = service.request_login_code(
        session=session, settings=settings, phone=PHONE, ip=None, sender=sender, now=later
    )
    assert issued.phone == PHONE


def test_the_sixth_sign_in_attempt_is_refused_even_with_the_right_code(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    service.request_login_code(
        session=session, settings=settings, phone=PHONE, ip=None, sender=sender, now=NOW
    )
    code = sender.last_code(PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            service.sign_in_with_code(
                session=session, settings=settings, phone=PHONE, code=wrong, ip="10.0.0.1", now=NOW
            )
    # a fresh code (the old one has one try left) and a fifth attempt that succeeds...
    service.request_login_code(
        session=session, settings=settings, phone=PHONE, ip=None, sender=sender, now=NOW
    )
    code = sender.last_code(PHONE)
    service.sign_in_with_code(
        session=session, settings=settings, phone=PHONE, code=code, ip="10.0.0.1", now=NOW
    )
    # ...and the sixth is over the limit, whatever it carries.
    with pytest.raises(RateLimited) as refused:
        service.sign_in_with_code(
            session=session, settings=settings, phone=PHONE, code=code, ip="10.0.0.2", now=NOW
        )
    assert refused.value.retry_after == 450


def test_the_sixth_staff_password_attempt_is_refused(session: Session, settings: Settings) -> None:
    make_staff(session, "ops")
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            service.sign_in_staff(
                session=session,
                settings=settings,
                username="ops",
                password="wrong-password",
                ip=None,
                now=NOW,
            )
    with pytest.raises(RateLimited):
        service.sign_in_staff(
            session=session, settings=settings, username="ops", password=PASSWORD, ip=None, now=NOW
        )


def test_staff_attempts_are_limited_per_ip_across_usernames(session: Session, settings: Settings) -> None:
    for n in range(5):
        with pytest.raises(AuthenticationFailed):
            service.sign_in_staff(
                session=session,
                settings=settings,
                username=f"nobody{n}",
                password="x",
                ip="10.1.1.1",
                now=NOW,
            )
    with pytest.raises(RateLimited):
        service.sign_in_staff(
            session=session, settings=settings, username="someone", password="x", ip="10.1.1.1", now=NOW
        )


def test_old_counters_are_pruned(session: Session) -> None:
    ratelimit.bump(session=session, key="old", window_seconds=900, now=NOW - timedelta(days=2))
    ratelimit.bump(session=session, key="new", window_seconds=900, now=NOW)
    assert service.purge_expired(session=session, now=NOW) >= 1
    assert session.scalars(select(RateCounter.key)).all() == ["new"]

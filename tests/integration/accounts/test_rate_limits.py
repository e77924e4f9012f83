"""Sign-in limits live in the database and protect accounts without letting strangers lock them out:
wrong attempts back off one account on one device (or on the devices it has never signed in from),
doubling the wait past a free allowance and forgetting after a quiet spell; a ceiling per address is
high enough for a whole carrier NAT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.accounts import ratelimit, service
from carloop.accounts.models import RateCounter, SignInGuard
from carloop.accounts.rules import backoff_seconds, window_start
from carloop.accounts.senders import MemorySender
from carloop.errors import AuthenticationFailed, RateLimited
from carloop.settings import Settings

from .conftest import PASSWORD, PHONE, make_staff

# The middle of a 15-minute window, so quick attempts never straddle two windows.
NOW = datetime(2030, 6, 1, 8, 7, 30, tzinfo=UTC)
OWNER_DEVICE = "owner-phone-0123456789abcdef"
ATTACKER = "attacker-laptop-0123456789abc"


def test_bump_counts_per_key_and_window_in_the_database(session: Session) -> None:
    counts = [ratelimit.bump(session=session, key="k", window_seconds=900, now=NOW) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert ratelimit.bump(session=session, key="other", window_seconds=900, now=NOW) == 1
    assert ratelimit.bump(session=session, key="k", window_seconds=900, now=NOW + timedelta(minutes=15)) == 1
    rows = session.execute(select(RateCounter.key, RateCounter.window_start, RateCounter.count)).all()
    assert (("k", window_start(NOW, 900), 3)) in [tuple(r) for r in rows]


def test_back_off_is_free_at_first_then_doubles_up_to_a_cap() -> None:
    waits = [backoff_seconds(n, free=5, base_seconds=30, cap_seconds=900) for n in range(1, 12)]
    assert waits == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]


def test_the_sixth_code_request_for_a_phone_waits_and_then_goes_through(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    for n in range(5):
        service.request_login_code(
            session=session, settings=settings, phone=PHONE, ip=f"10.0.0.{n}", sender=sender, now=NOW
        )
    with pytest.raises(RateLimited) as refused:
        service.request_login_code(
            session=session, settings=settings, phone=PHONE, ip="10.0.0.9", sender=sender, now=NOW
        )
    assert refused.value.retry_after == settings.backoff_base_seconds
    assert len(sender.sent) == 5
    later = NOW + timedelta(seconds=settings.backoff_base_seconds)
    service.request_login_code(
        session=session, settings=settings, phone=PHONE, ip=None, sender=sender, now=later
    )
    assert len(sender.sent) == 6  # a delay, not a lock


def test_eight_buyers_behind_one_carrier_address_all_get_their_codes(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    for n in range(8):
        phone = f"1380013800{n}"
        for _ in range(3):  # and each asks again twice, as impatient buyers do
            service.request_login_code(
                session=session, settings=settings, phone=phone, ip="100.64.0.1", sender=sender, now=NOW
            )
    assert len(sender.sent) == 24


def test_a_flood_from_one_address_meets_the_ceiling(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    tight = settings.model_copy(update={"otp_requests_per_ip_window": 10})
    for n in range(10):
        service.request_login_code(
            session=session, settings=tight, phone=f"139{n:08d}", ip="10.9.9.9", sender=sender, now=NOW
        )
    with pytest.raises(RateLimited):
        service.request_login_code(
            session=session, settings=tight, phone="13700137000", ip="10.9.9.9", sender=sender, now=NOW
        )


def _staff_attempt(
    session: Session, settings: Settings, password: str, device: str | None, now: datetime
) -> None:
    service.sign_in_staff(
        session=session,
        settings=settings,
        username="ops",
        password=password,
        ip="10.1.1.1",
        now=now,
        device=device,
    )


def test_strangers_guessing_a_staff_password_never_slow_down_the_staff_members_own_browser(
    session: Session, settings: Settings
) -> None:
    make_staff(session, "ops")
    _staff_attempt(session, settings, PASSWORD, OWNER_DEVICE, NOW)  # the browser she always uses
    refused = 0
    for n in range(40):
        try:
            _staff_attempt(
                session, settings, "wrong-password", f"{ATTACKER}{n:04d}", NOW + timedelta(seconds=n)
            )
        except RateLimited:
            refused += 1
        except AuthenticationFailed:
            pass
    assert refused > 0  # the guessing backs off...
    _staff_attempt(session, settings, PASSWORD, OWNER_DEVICE, NOW + timedelta(seconds=41))  # ...she does not


def test_guesses_from_unknown_devices_back_off_then_may_try_again(
    session: Session, settings: Settings
) -> None:
    make_staff(session, "ops")
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            _staff_attempt(session, settings, "wrong-password", None, NOW)
    with pytest.raises(RateLimited) as first:
        _staff_attempt(session, settings, PASSWORD, None, NOW)
    assert first.value.retry_after == 30
    later = NOW + timedelta(seconds=30)
    with pytest.raises(AuthenticationFailed):
        _staff_attempt(session, settings, "wrong-password", None, later)
    with pytest.raises(RateLimited) as second:
        _staff_attempt(session, settings, PASSWORD, None, later)
    assert second.value.retry_after == 60  # doubled
    _staff_attempt(session, settings, PASSWORD, None, later + timedelta(seconds=60))  # never locked
    key = "staff:ops:unknown"
    assert session.scalar(select(SignInGuard.failures).where(SignInGuard.key == key)) == 0


def test_a_quiet_spell_forgets_old_failures(session: Session, settings: Settings) -> None:
    make_staff(session, "ops")
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            _staff_attempt(session, settings, "wrong-password", None, NOW)
    much_later = NOW + timedelta(seconds=settings.rate_window_seconds + 1)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            _staff_attempt(session, settings, "wrong-password", None, much_later)


def test_wrong_codes_back_off_the_phone_on_unknown_devices_not_on_the_owners(
    session: Session, settings: Settings, sender: MemorySender
) -> None:
    service.request_login_code(
        session=session, settings=settings, phone=PHONE, ip=None, sender=sender, now=NOW
    )
    service.sign_in_with_code(
        session=session, settings=settings, phone=PHONE, code=sender.last_code(PHONE), ip=None, now=NOW,
        device=OWNER_DEVICE,
    )  # fmt: skip
    service.request_login_code(
        session=session, settings=settings, phone=PHONE, ip=None, sender=sender, now=NOW, device=ATTACKER
    )
    code = sender.last_code(PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    outcomes = []
    for _ in range(10):
        try:
            service.sign_in_with_code(
                session=session, settings=settings, phone=PHONE, code=wrong, ip=None, now=NOW, device=ATTACKER
            )
        except (AuthenticationFailed, RateLimited) as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes[:5] == ["AuthenticationFailed"] * 5 and outcomes[5:] == ["RateLimited"] * 5
    # The owner's phone still asks for and uses a code at once.
    service.request_login_code(
        session=session, settings=settings, phone=PHONE, ip=None, sender=sender, now=NOW, device=OWNER_DEVICE
    )
    service.sign_in_with_code(
        session=session, settings=settings, phone=PHONE, code=sender.last_code(PHONE), ip=None, now=NOW,
        device=OWNER_DEVICE,
    )  # fmt: skip


def test_old_counters_and_idle_back_off_are_pruned_but_known_devices_kept(session: Session) -> None:
    ratelimit.bump(session=session, key="old", window_seconds=900, now=NOW - timedelta(days=2))
    ratelimit.bump(session=session, key="new", window_seconds=900, now=NOW)
    ratelimit.fail(
        session=session, key="idle", now=NOW - timedelta(days=2), free=5, base_seconds=30, cap_seconds=900
    )
    ratelimit.succeed(
        session=session, kind="staff", account="ops", key="staff:ops:unknown", device=OWNER_DEVICE,
        now=NOW - timedelta(days=2),
    )  # fmt: skip
    assert service.purge_expired(session=session, now=NOW) >= 2
    assert session.scalars(select(RateCounter.key)).all() == ["new"]
    assert [k for k in session.scalars(select(SignInGuard.key)) if not k.startswith("known:")] == []
    assert session.scalar(select(SignInGuard.known).where(SignInGuard.key.startswith("known:staff:ops:")))

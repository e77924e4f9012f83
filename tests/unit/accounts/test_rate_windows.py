"""Fixed rate-limit windows: where a moment falls, and how long until the window ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from carloop.accounts.rules import retry_after, window_start

moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))
windows = st.integers(min_value=1, max_value=7 * 24 * 3600)


@given(moments, windows)
def test_a_moment_falls_inside_its_window(now: datetime, seconds: int) -> None:
    start = window_start(now, seconds)
    assert start <= now < start + timedelta(seconds=seconds)


@given(moments, windows)
def test_moments_in_one_window_share_its_start(now: datetime, seconds: int) -> None:
    start = window_start(now, seconds)
    assert window_start(start, seconds) == start
    assert window_start(start + timedelta(seconds=seconds) - timedelta(microseconds=1), seconds) == start
    assert window_start(start + timedelta(seconds=seconds), seconds) == start + timedelta(seconds=seconds)


@given(moments, windows)
def test_retry_after_reaches_the_next_window_and_no_further(now: datetime, seconds: int) -> None:
    start = window_start(now, seconds)
    wait = retry_after(now, start, seconds)
    assert 1 <= wait <= seconds
    assert window_start(now + timedelta(seconds=wait), seconds) > start
    assert now + timedelta(seconds=wait - 1) < start + timedelta(seconds=seconds)


def test_windows_are_aligned_to_the_epoch() -> None:
    now = datetime(2025, 3, 1, 10, 7, 30, tzinfo=UTC)
    assert window_start(now, 900) == datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    assert retry_after(now, window_start(now, 900), 900) == 450


def test_retry_after_rounds_up_partial_seconds() -> None:
    start = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    assert retry_after(start + timedelta(seconds=899, microseconds=1), start, 900) == 1

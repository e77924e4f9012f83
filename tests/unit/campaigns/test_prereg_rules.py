"""Pure rules of pre-registration: countdown, input cleaning, segments and the sending schedule."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.campaigns import registration_rules as rules

REVEAL = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_countdown_splits_the_time_left_and_rounds_up() -> None:
    left = rules.countdown(REVEAL, REVEAL - timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=1))
    assert (left.days, left.hours, left.minutes, left.secs) == (1, 2, 3, 5)
    assert not left.revealed


def test_countdown_is_zero_and_revealed_at_and_after_the_reveal() -> None:
    assert rules.countdown(REVEAL, REVEAL).revealed
    assert rules.countdown(REVEAL, REVEAL + timedelta(hours=1)).seconds == 0


def test_registration_closes_when_the_campaign_ends() -> None:
    assert rules.can_register(reveal_at=REVEAL, ends_at=None, now=REVEAL + timedelta(days=30))
    assert not rules.can_register(reveal_at=REVEAL, ends_at=REVEAL, now=REVEAL)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("  上海 ", "上海"), ("Hang   zhou", "Hang zhou"), ("", None), ("x" * 41, None), ("上\x00海", None)],
)
def test_city_is_trimmed_and_refused_when_empty_long_or_binary(raw: str, clean: str | None) -> None:
    assert rules.clean_city(raw) == clean


@pytest.mark.parametrize(
    ("raw", "clean"),
    [(None, ""), ("  ", ""), ("kol:li-ming", "kol:li-ming"), ("<script>", None), ("a b", None)],
)
def test_channel_tags_are_plain(raw: str | None, clean: str | None) -> None:
    assert rules.clean_channel(raw) == clean


def test_a_segment_matches_on_every_named_dimension_and_empty_means_any() -> None:
    segment = rules.Segment(models=("su7",), cities=("上海", "北京"))
    assert segment.matches(model="su7", city="上海", channel="livestream")
    assert not segment.matches(model="yu7", city="上海", channel="")
    assert not segment.matches(model="su7", city="广州", channel="")
    assert rules.Segment().matches(model="x", city="y", channel="z")
    assert segment.describe() == "model=su7 city=上海,北京"
    assert rules.Segment().describe() == "everyone"


@given(count=st.integers(0, 3000), per_second=st.integers(1, 500))
def test_no_second_carries_more_than_the_rate_and_none_is_left_idle(count: int, per_second: int) -> None:
    slots = [rules.send_slot(REVEAL, i, per_second) for i in range(count)]
    per_slot = Counter(slots)
    assert all(n <= per_second for n in per_slot.values())
    assert slots == sorted(slots)
    # every second before the last is full: the schedule is as fast as the rate allows
    seconds = sorted(per_slot)
    assert all(per_slot[s] == per_second for s in seconds[:-1])
    if count:
        assert rules.last_slot(REVEAL, count, per_second) == slots[-1]
        assert (slots[-1] - REVEAL).total_seconds() == (count - 1) // per_second


def test_a_rate_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        rules.send_slot(REVEAL, 0, 0)

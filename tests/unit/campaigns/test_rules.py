"""Campaign rules: coverage, the reveal, what may change after it, perks and the live view's sums."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from carloop.campaigns import rules

REVEAL = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PERK = {"kind": "first_paid", "limit": 3, "title_en": "Free wheels", "title_zh": "赠送轮毂"}


def _terms(**changes: object) -> rules.Terms:
    base = {
        "models": ("su7",),
        "trims": (),
        "reveal_at": REVEAL,
        "ends_at": REVEAL + timedelta(days=1),
        "perk": PERK,
    }
    base.update(changes)
    return rules.Terms(**base)  # type: ignore[arg-type]


def test_a_campaign_covers_its_models_and_listed_trims_only() -> None:
    assert rules.covers(_terms(), "su7", "max")
    assert not rules.covers(_terms(), "yu7", "max")
    limited = _terms(trims=("max",))
    assert rules.covers(limited, "su7", "max")
    assert not rules.covers(limited, "su7", "pro")


def test_orders_open_at_the_reveal_second_and_not_before() -> None:
    assert not rules.is_revealed(REVEAL, REVEAL - timedelta(microseconds=1))
    assert rules.is_revealed(REVEAL, REVEAL)
    assert rules.seconds_until(REVEAL, REVEAL - timedelta(seconds=90, milliseconds=500)) == 91
    assert rules.seconds_until(REVEAL, REVEAL + timedelta(seconds=5)) == 0


def test_before_the_reveal_anything_may_change_but_the_reveal_cannot_go_into_the_past() -> None:
    now = REVEAL - timedelta(hours=1)
    assert rules.change_problem(_terms(), _terms(models=("su7", "yu7"), perk=None), now=now) is None
    assert rules.change_problem(_terms(), _terms(reveal_at=now - timedelta(seconds=1)), now=now)


def test_after_the_reveal_only_a_later_end_is_allowed() -> None:
    now = REVEAL + timedelta(minutes=1)
    later = _terms(ends_at=REVEAL + timedelta(days=2))
    assert rules.change_problem(_terms(), later, now=now) is None
    assert rules.change_problem(_terms(), _terms(ends_at=REVEAL + timedelta(hours=2)), now=now)
    assert rules.change_problem(_terms(), _terms(perk=None), now=now)
    assert rules.change_problem(_terms(), _terms(trims=("max",)), now=now)
    assert rules.change_problem(_terms(), _terms(reveal_at=REVEAL + timedelta(hours=1)), now=now)


def test_terms_problems_name_what_is_wrong() -> None:
    ok = rules.terms_problems(_terms(), now=REVEAL, known_models=["su7"])
    assert ok == []
    bad = rules.terms_problems(
        _terms(models=("nope",), ends_at=REVEAL, perk={"kind": "first_paid", "limit": 0}),
        now=REVEAL,
        known_models=["su7"],
    )
    assert len(bad) == 4


def test_first_paid_perk_goes_to_the_first_limit_positions() -> None:
    assert [rules.wins_first_paid(PERK, p) for p in range(5)] == [False, True, True, True, False]
    assert rules.perk_left(PERK, 1) == 2
    assert rules.perk_left(PERK, 9) == 0
    assert rules.perk_left(None, 0) is None


def test_locked_within_perk_counts_from_the_reveal() -> None:
    perk = {"kind": "locked_within", "hours": 72, "title_en": "x", "title_zh": "x"}
    assert rules.wins_locked_within(perk, REVEAL, REVEAL + timedelta(hours=72))
    assert not rules.wins_locked_within(perk, REVEAL, REVEAL + timedelta(hours=72, seconds=1))
    assert not rules.wins_locked_within(PERK, REVEAL, REVEAL)


@given(st.lists(st.integers(min_value=0, max_value=120), max_size=50))
def test_per_second_counts_every_moment_in_the_window_once(offsets: list[int]) -> None:
    now = REVEAL + timedelta(seconds=60)
    moments = [now - timedelta(seconds=o) for o in offsets]
    counts = rules.per_second(moments, now=now, window=60)
    assert len(counts) == 60
    assert sum(counts) == sum(1 for o in offsets if o < 60)
    assert counts[-1] == offsets.count(0)


def test_funnel_counts_reservations_paid_and_locked_per_key() -> None:
    rows = rules.funnel({"a": 10, "b": 3}, [("a", True, True), ("a", True, False), ("c", False, False)])
    assert rows[0] == rules.FunnelRow("a", 10, 2, 2, 1)
    assert {r.key for r in rows} == {"a", "b", "c"}


def test_a_moment_resaved_to_the_second_is_no_change() -> None:
    shown = _terms(reveal_at=REVEAL + timedelta(microseconds=400_000))
    assert rules.changed_fields(shown, _terms()) == []
    assert rules.change_problem(shown, _terms(), now=REVEAL + timedelta(hours=1)) is None

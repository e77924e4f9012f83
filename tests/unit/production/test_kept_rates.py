"""Honest confidence: the share a window states is the measured share of its kind that was kept."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from carloop.production import rules
from carloop.production.schemas import LeadTimes

LEAD = LeadTimes(transport_min=2, transport_max=7, prep_min=1, prep_max=3)


def test_bands_group_windows_by_weeks_ahead() -> None:
    assert [rules.band(w) for w in (0, 2, 3, 6, 7, 12, 13, 26, 27, 60)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_a_window_is_kept_when_the_car_arrives_by_its_last_day() -> None:
    lo, hi = date(2027, 1, 4), date(2027, 1, 20)
    assert rules.was_kept(hi, lo) and rules.was_kept(hi, hi)
    assert rules.was_kept(hi, lo - timedelta(days=3))  # early: the buyer got the car sooner
    assert not rules.was_kept(hi, hi + timedelta(days=1))
    assert not rules.was_kept(None, lo)


def test_too_few_deliveries_state_no_share_but_the_sample_size() -> None:
    few = rules.kept_rates([rules.Outcome("su7", 4, True)] * (rules.MIN_SAMPLE - 1))
    record = rules.stated(few, "su7", 5)
    assert record.share is None and record.total == rules.MIN_SAMPLE - 1
    enough = rules.kept_rates([rules.Outcome("su7", 4, True)] * rules.MIN_SAMPLE)
    assert rules.stated(enough, "su7", 5).share == 1.0


def test_the_stated_share_is_the_measured_one_of_the_same_model_and_band() -> None:
    outcomes = [rules.Outcome("su7", 5, i % 4 != 0) for i in range(40)]  # 30 of 40 kept
    outcomes += [rules.Outcome("su7", 20, i % 2 == 0) for i in range(40)]  # 20 of 40 kept
    outcomes += [rules.Outcome("yu7", 5, False) for _ in range(40)]
    rates = rules.kept_rates(outcomes)
    assert rules.stated(rates, "su7", 4).share == 0.75
    assert rules.stated(rates, "su7", 14).share == 0.5
    assert rules.stated(rates, "yu7", 3).share == 0.0
    assert rules.stated(rates, "yu7", 20).total == 0  # another kind: nothing measured


def test_a_window_carries_the_record_of_its_kind() -> None:
    week = rules.week_of(date(2027, 3, 1))
    today = rules.week_start(week - 1)
    window = rules.delivery_window(week, current_week=week - 1, lead=LEAD, today=today, model="su7")
    assert window.latest is not None
    ahead = rules.weeks_from(window.latest, today, up=True)
    rates = rules.kept_rates([rules.Outcome("su7", ahead, i < 27) for i in range(30)])
    stated = rules.delivery_window(
        week, current_week=week - 1, lead=LEAD, today=today, model="su7", rates=rates
    )
    assert stated.confidence == 0.9 and stated.sample == 30
    assert (stated.earliest, stated.latest) == (window.earliest, window.latest)


def test_calibration_error_is_the_weighted_gap_between_stated_and_kept_in_points() -> None:
    perfect = [("su7", 1, 0.8, i < 8) for i in range(10)]
    assert (rules.calibration_error(perfect) or 0) < 1e-9
    boastful = [("su7", 1, 0.95, i < 7) for i in range(10)]  # said 95 %, kept 70 %
    assert abs((rules.calibration_error(boastful) or 0) - 25) < 1e-9
    assert rules.calibration_error([]) is None


@given(st.lists(st.tuples(st.sampled_from(["su7", "yu7"]), st.integers(0, 40), st.booleans()), max_size=200))
def test_stating_the_measured_share_has_no_calibration_error(raw: list[tuple[str, int, bool]]) -> None:
    outcomes = [rules.Outcome(m, w, k) for m, w, k in raw]
    rates = rules.kept_rates(outcomes)
    assert sum(k.total for k in rates.values()) == len(outcomes)
    pairs = [
        (
            o.model,
            rules.band(o.weeks_ahead),
            rates[(o.model, rules.band(o.weeks_ahead))].kept
            / rates[(o.model, rules.band(o.weeks_ahead))].total,
            o.kept,
        )
        for o in outcomes
    ]
    error = rules.calibration_error(pairs)
    assert error is None if not outcomes else error is not None and error < 1e-6

"""Analytics rules: privacy buckets, funnel drop-off and market concentration."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.analytics import rules
from carloop.analytics.rules import AGE_BANDS, Stage


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (17, None),
        (18, "18-24"),
        (24, "18-24"),
        (25, "25-29"),
        (34, "30-34"),
        (40, "35-40"),
        (41, "41-49"),
        (50, "50+"),
        (90, "50+"),
        (None, None),
        (130, None),
    ],
)
def test_ages_are_stored_only_as_bands(age: int | None, band: str | None) -> None:
    assert rules.age_band(age) == band


@given(st.integers(min_value=18, max_value=120))
def test_every_adult_age_falls_in_exactly_one_band(age: int) -> None:
    assert rules.age_band(age) in AGE_BANDS


def test_visitor_ids_are_keyed_one_way_hashes_that_never_contain_the_phone() -> None:
    first = rules.anonymise(b"key-1", "+8613800138000")
    assert len(first) == 32 and "13800138000" not in first
    assert first == rules.anonymise(b"key-1", "+8613800138000")
    assert first != rules.anonymise(b"key-2", "+8613800138000")


def test_funnel_steps_report_conversion_and_drop_off_between_stages() -> None:
    counts = {Stage.MODEL_VIEWED: 1000, Stage.CONFIGURATION_PRICED: 400, Stage.RESERVATION_STARTED: 100,
              Stage.PAID: 90, Stage.LOCKED: 60, Stage.DELIVERED: 0}  # fmt: skip
    steps = rules.funnel_steps({str(k): v for k, v in counts.items()})
    assert [s.stage for s in steps] == [str(s) for s in rules.FUNNEL]
    assert steps[0].from_previous is None and steps[0].from_top == 1.0
    assert steps[1].from_previous == pytest.approx(0.4) and steps[1].drop_off == pytest.approx(0.6)
    assert steps[4].from_top == pytest.approx(0.06)
    assert steps[5].count == 0 and steps[5].from_previous == 0.0


def test_an_empty_funnel_has_no_ratios() -> None:
    steps = rules.funnel_steps({})
    assert all(s.count == 0 and s.from_previous is None and s.from_top is None for s in steps)


def test_market_month_computes_shares_hhi_cr4_cr8_and_rank() -> None:
    units = {"A": 500, "B": 200, "C": 100, "D": 100, "E": 50, "F": 50, "X": 0}
    month = rules.market_month("2025-06", units, brand="C")
    assert month.total_units == 1000
    assert list(month.shares) == ["A", "B", "C", "D", "E", "F"]  # largest first, ties by name
    assert month.hhi == pytest.approx(50**2 + 20**2 + 10**2 + 10**2 + 5**2 + 5**2)
    assert month.cr4 == pytest.approx(0.9) and month.cr8 == pytest.approx(1.0)
    assert month.brand_rank == 3 and month.brand_share == pytest.approx(0.1)
    assert rules.market_month("2025-06", units, brand="X").brand_rank is None


def test_a_monopoly_is_highly_concentrated() -> None:
    month = rules.market_month("2025-01", {"Only": 10})
    assert month.hhi == pytest.approx(10_000) and month.cr4 == pytest.approx(1.0)
    assert rules.concentration_label(month.hhi) == "highly concentrated"
    assert rules.concentration_label(1000) == "unconcentrated"
    assert rules.concentration_label(2000) == "moderately concentrated"


@given(
    st.dictionaries(st.text(min_size=1, max_size=8), st.integers(min_value=0, max_value=10**7), max_size=30)
)
def test_market_structure_invariants_hold_for_any_sales(units: dict[str, int]) -> None:
    month = rules.market_month("2025-01", units, brand=next(iter(units), None))
    sellers = [n for n in units.values() if n > 0]
    if not sellers:
        assert month.shares == {} and month.hhi == 0 and month.cr4 == 0
        return
    assert sum(month.shares.values()) == pytest.approx(1.0)
    assert 10_000 / len(sellers) - 1e-6 <= month.hhi <= 10_000 + 1e-6
    assert month.cr4 <= month.cr8 + 1e-12 <= 1.0 + 1e-9
    shares = list(month.shares.values())
    assert shares == sorted(shares, reverse=True)
    if month.brand_rank is not None:
        assert shares[month.brand_rank - 1] == month.brand_share

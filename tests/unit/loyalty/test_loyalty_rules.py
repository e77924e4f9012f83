"""Pure points rules: balanced bookings, caps, the expiry date and FIFO lapsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.loyalty import rules
from carloop.loyalty.rules import EARN_RULES, EarnReason, EarnRule, Lot

NOW = datetime(2027, 6, 1, tzinfo=UTC)


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=10**6))
def test_every_booking_balances_and_moves_the_owner_the_right_way(points: int, customer_id: int) -> None:
    for book, owner_sign in ((rules.earned, -1), (rules.spent, 1), (rules.returned, -1), (rules.expired, 1)):
        lines = book(customer_id, points)
        assert rules.is_balanced(lines)
        [owner] = [ln for ln in lines if ln.account == "owner"]
        assert owner.amount == owner_sign * points and owner.customer_id == customer_id


@pytest.mark.parametrize("points", [0, -5])
def test_bookings_refuse_non_positive_points(points: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        rules.spent(1, points)


def test_caps_count_per_day_and_per_year() -> None:
    rule = EarnRule(points=1, contribution=0, daily_cap=2, yearly_cap=3)
    assert rules.within_caps(rule, today_count=1, year_count=2)
    assert not rules.within_caps(rule, today_count=2, year_count=2)
    assert not rules.within_caps(rule, today_count=0, year_count=3)
    assert rules.within_caps(EARN_RULES[EarnReason.DELIVERY], today_count=99, year_count=99)


def test_points_lapse_at_the_end_of_the_second_following_year_in_china() -> None:
    earned = datetime(2024, 12, 31, 17, tzinfo=UTC)  # already 2025-01-01 in Shanghai
    assert rules.expires_at(earned).astimezone(UTC) == datetime(2027, 12, 31, 16, tzinfo=UTC)


lots = st.lists(
    st.tuples(st.integers(min_value=1, max_value=10_000), st.integers(min_value=-1000, max_value=1000)),
    max_size=12,
)


@given(lots, st.integers(min_value=0, max_value=200_000))
def test_lapsing_never_exceeds_what_is_left_of_expired_lots(
    raw: list[tuple[int, int]], consumed: int
) -> None:
    the_lots = [Lot(p, NOW + timedelta(days=d)) for p, d in raw]
    total = sum(p for p, _ in raw)
    consumed = min(consumed, total)
    due = rules.lapsed(the_lots, consumed, NOW)
    expired_total = sum(lot.points for lot in the_lots if lot.expires_at and lot.expires_at <= NOW)
    assert 0 <= due <= expired_total
    assert due <= total - consumed  # never more than the balance
    assert rules.lapsed(the_lots, consumed + due, NOW) == 0  # lapsing is complete in one pass


def test_spending_uses_the_oldest_lot_first() -> None:
    old, new = Lot(100, NOW - timedelta(days=1)), Lot(100, NOW + timedelta(days=300))
    assert rules.lapsed([new, old], 30, NOW) == 70
    assert rules.lapsed([new, old], 150, NOW) == 0


def test_cart_total_multiplies_and_refuses_bad_quantities() -> None:
    assert rules.cart_total([rules.CartLine(1, 2, 800), rules.CartLine(2, 1, 50)]) == 1650
    with pytest.raises(ValueError, match="positive"):
        rules.cart_total([rules.CartLine(1, 0, 800)])


@given(
    total_points=st.integers(1, 10**7),
    total_fen=st.integers(0, 10**9),
    share=st.floats(0, 1),
)
def test_cash_due_is_the_unpaid_share_rounded_up_and_never_more_than_the_price(
    total_points: int, total_fen: int, share: float
) -> None:
    used = round(total_points * share)
    due = rules.cash_due(total_points=total_points, total_fen=total_fen, points_used=used)
    assert 0 <= due <= total_fen
    # the cash part covers the unpaid share exactly, rounded up by less than one fen
    assert due * total_points >= total_fen * (total_points - used) > (due - 1) * total_points or due == 0
    assert rules.cash_due(total_points=total_points, total_fen=total_fen, points_used=0) == total_fen
    assert rules.cash_due(total_points=total_points, total_fen=total_fen, points_used=total_points) == 0
    if used < total_points:  # one more point never costs more cash
        more = rules.cash_due(total_points=total_points, total_fen=total_fen, points_used=used + 1)
        assert more <= due


def test_cash_due_refuses_points_outside_the_price() -> None:
    with pytest.raises(ValueError, match="between"):
        rules.cash_due(total_points=100, total_fen=500, points_used=101)
    with pytest.raises(ValueError, match="between"):
        rules.cash_due(total_points=100, total_fen=500, points_used=-1)


def test_a_cart_has_a_cash_price_only_when_every_product_has_one() -> None:
    lines = [rules.CartLine(1, 2, 800, 5900), rules.CartLine(2, 1, 500, 3000)]
    assert rules.cart_cash_total(lines) == 14800
    assert rules.cart_cash_total([*lines, rules.CartLine(3, 1, 500)]) is None

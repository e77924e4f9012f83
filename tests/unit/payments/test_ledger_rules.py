"""How money is booked and reconciled, without a database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.payments import rules
from carloop.payments.models import Account
from carloop.payments.rules import OrderMoney

amounts = st.integers(min_value=1, max_value=10**12)


@given(st.integers(min_value=1, max_value=10**9), amounts)
def test_every_booking_balances(order_id: int, amount: int) -> None:
    for lines in (
        rules.payment_received(order_id, amount),
        rules.refund_paid(order_id, amount),
        rules.deposit_forfeited(order_id, amount),
    ):
        assert rules.is_balanced(lines)
        assert all(line.order_id == order_id for line in lines)


@pytest.mark.parametrize("bad", [0, -1])
def test_amounts_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        rules.payment_received(1, bad)


def test_payment_then_refund_leaves_nothing_held() -> None:
    lines = rules.payment_received(7, 500_000) + rules.refund_paid(7, 500_000)
    held = -sum(ln.amount_fen for ln in lines if ln.account is Account.CUSTOMER_PREPAYMENTS)
    assert held == 0


@given(
    st.lists(
        st.tuples(st.integers(1, 5), st.sampled_from(["pay", "refund", "forfeit"]), amounts), max_size=40
    )
)
def test_reconcile_agrees_with_bookings_made_by_the_rules(moves: list[tuple[int, str, int]]) -> None:
    records: dict[int, OrderMoney] = {}
    held: dict[int, int] = {}
    for order_id, kind, amount in moves:
        m = records.get(order_id, OrderMoney())
        if kind == "pay":
            lines = rules.payment_received(order_id, amount)
            records[order_id] = OrderMoney(m.paid_fen + amount, m.refunded_fen, m.forfeited_fen)
        elif kind == "refund":
            lines = rules.refund_paid(order_id, amount)
            records[order_id] = OrderMoney(m.paid_fen, m.refunded_fen + amount, m.forfeited_fen)
        else:
            lines = rules.deposit_forfeited(order_id, amount)
            records[order_id] = OrderMoney(m.paid_fen, m.refunded_fen, m.forfeited_fen + amount)
        for ln in lines:
            if ln.account is Account.CUSTOMER_PREPAYMENTS:
                held[order_id] = held.get(order_id, 0) - ln.amount_fen
    assert rules.reconcile(records, held) == []


def test_reconcile_names_the_order_that_differs() -> None:
    mismatches = rules.reconcile({1: OrderMoney(paid_fen=500_000)}, {1: 400_000})
    assert [(m.order_id, m.difference_fen) for m in mismatches] == [(1, -100_000)]


def test_a_forfeit_over_the_policy_and_money_kept_after_the_end_are_breaches() -> None:
    terms = {
        1: rules.OrderTerms("A", forfeit_limit_fen=500, keep_limit_fen=0),
        2: rules.OrderTerms("B", forfeit_limit_fen=500, keep_limit_fen=0),
        3: rules.OrderTerms("C", forfeit_limit_fen=500, keep_limit_fen=1000),
        4: rules.OrderTerms("D", forfeit_limit_fen=500, keep_limit_fen=None),
    }
    records = {
        1: OrderMoney(paid_fen=1500, forfeited_fen=1500),
        2: OrderMoney(paid_fen=1500, refunded_fen=1000),
        3: OrderMoney(paid_fen=1300),
        4: OrderMoney(paid_fen=9000),
    }
    held = {order_id: money.expected_held_fen for order_id, money in records.items()}
    found = rules.breaches(records, held, terms)
    assert [(b.number, b.what, b.amount_fen, b.limit_fen) for b in found] == [
        ("A", rules.Breach.FORFEIT_OVER_POLICY, 1500, 500),
        ("B", rules.Breach.KEPT_AFTER_END, 500, 0),
        ("C", rules.Breach.KEPT_OVER_PRICE, 1300, 1000),
    ]

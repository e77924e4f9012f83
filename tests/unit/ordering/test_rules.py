"""The order lifecycle rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.errors import ErrorCode, InvalidTransition, PolicyViolation
from carloop.ordering import rules
from carloop.ordering.rules import (
    CancelMoney,
    DepositFacts,
    LockConfirmation,
    NotRefundableReason,
    OrderStatus,
)

PAID = datetime(2026, 6, 26, 22, 0, tzinfo=UTC)
UNTIL = PAID + timedelta(hours=168)


def reserved(until: datetime | None = UNTIL) -> DepositFacts:
    return DepositFacts(OrderStatus.RESERVED, lock_at_payment=False, refundable_until=until)


def test_refund_window_is_168_hours_after_payment() -> None:
    assert rules.refundable_until(PAID, refundable_hours=168, lock_at_payment=False) == UNTIL


def test_edition_deposit_has_no_refund_window() -> None:
    assert rules.refundable_until(PAID, refundable_hours=168, lock_at_payment=True) is None
    assert rules.status_after_deposit(lock_at_payment=True) is OrderStatus.LOCKED
    assert rules.status_after_deposit(lock_at_payment=False) is OrderStatus.RESERVED


def test_reserved_deposit_is_refundable_until_the_window_ends() -> None:
    verdict = rules.refundability(reserved(), UNTIL - timedelta(seconds=1))
    assert verdict.refundable and verdict.until == UNTIL


def test_deposit_is_not_refundable_at_the_end_of_the_window() -> None:
    verdict = rules.refundability(reserved(), UNTIL)
    assert not verdict.refundable
    assert verdict.reason is NotRefundableReason.WINDOW_ENDED


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (OrderStatus.PENDING_PAYMENT, NotRefundableReason.NOT_PAID),
        (OrderStatus.LOCKED, NotRefundableReason.LOCKED),
        (OrderStatus.IN_PRODUCTION, NotRefundableReason.LOCKED),
        (OrderStatus.REFUNDED, NotRefundableReason.REFUNDED),
        (OrderStatus.CANCELLED, NotRefundableReason.CANCELLED),
        (OrderStatus.DELIVERED, NotRefundableReason.DELIVERED),
    ],
)
def test_every_non_refundable_state_says_why(status: OrderStatus, reason: NotRefundableReason) -> None:
    verdict = rules.refundability(DepositFacts(status, False, UNTIL), PAID)
    assert not verdict.refundable and verdict.reason is reason


def test_locked_edition_says_edition() -> None:
    verdict = rules.refundability(DepositFacts(OrderStatus.LOCKED, True, None), PAID)
    assert verdict.reason is NotRefundableReason.EDITION


@given(st.sampled_from(list(OrderStatus)), st.datetimes(timezones=st.just(UTC)))
def test_refundability_always_gives_a_time_or_a_reason(status: OrderStatus, now: datetime) -> None:
    verdict = rules.refundability(DepositFacts(status, False, UNTIL), now)
    assert (verdict.refundable and verdict.until is not None) or (not verdict.refundable and verdict.reason)


@given(st.sampled_from(list(OrderStatus)), st.datetimes(timezones=st.just(UTC)))
def test_a_locked_deposit_is_never_refundable(status: OrderStatus, now: datetime) -> None:
    if status in rules.ACTIVE_AFTER_LOCK or status is OrderStatus.DELIVERED:
        assert not rules.refundability(DepositFacts(status, False, UNTIL), now).refundable


def test_reserved_order_is_due_for_auto_lock_when_window_ends() -> None:
    assert not rules.due_for_auto_lock(reserved(), UNTIL - timedelta(microseconds=1))
    assert rules.due_for_auto_lock(reserved(), UNTIL)
    assert not rules.due_for_auto_lock(DepositFacts(OrderStatus.LOCKED, False, UNTIL), UNTIL)


def test_final_states_have_no_way_out() -> None:
    for status in rules.FINAL:
        for target in OrderStatus:
            assert not rules.can_transition(status, target)


def test_invalid_transition_names_both_states() -> None:
    with pytest.raises(InvalidTransition) as caught:
        rules.check_transition(OrderStatus.REFUNDED, OrderStatus.LOCKED)
    assert "refunded" in caught.value.message and "locked" in caught.value.message


def test_a_refunded_order_can_only_come_from_reserved_or_the_waitlist() -> None:
    sources = {s for s in OrderStatus if rules.can_transition(s, OrderStatus.REFUNDED)}
    assert sources == {OrderStatus.RESERVED, OrderStatus.WAITLISTED}


def test_cancel_plans() -> None:
    pending = DepositFacts(OrderStatus.PENDING_PAYMENT, False, None)
    assert rules.plan_cancellation(pending, PAID).money is CancelMoney.NONE
    assert rules.plan_cancellation(reserved(), PAID).money is CancelMoney.REFUND
    assert rules.plan_cancellation(reserved(), UNTIL).money is CancelMoney.FORFEIT
    locked = DepositFacts(OrderStatus.LOCKED, False, UNTIL)
    plan = rules.plan_cancellation(locked, PAID)
    assert plan.money is CancelMoney.FORFEIT and plan.target is OrderStatus.CANCELLED


def test_cancel_in_production_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        rules.plan_cancellation(DepositFacts(OrderStatus.IN_PRODUCTION, False, UNTIL), PAID)


def test_lock_confirmation_must_repeat_amount_configuration_and_acknowledge() -> None:
    good = LockConfirmation(True, 500_000, "SU7 Pro, Aqua Blue")
    rules.check_lock_confirmation(good, deposit_fen=500_000, configuration="SU7 Pro, Aqua Blue")
    for bad in (
        LockConfirmation(False, 500_000, "SU7 Pro, Aqua Blue"),
        LockConfirmation(True, 400_000, "SU7 Pro, Aqua Blue"),
        LockConfirmation(True, 500_000, "SU7 Max"),
    ):
        with pytest.raises(PolicyViolation) as caught:
            rules.check_lock_confirmation(bad, deposit_fen=500_000, configuration="SU7 Pro, Aqua Blue")
        assert caught.value.code is ErrorCode.LOCK_NOT_CONFIRMED


held_payments = st.lists(
    st.builds(
        rules.HeldPayment,
        payment_id=st.integers(min_value=1, max_value=10**6),
        deposit=st.booleans(),
        held_fen=st.integers(min_value=0, max_value=10**9),
    ),
    max_size=6,
    unique_by=lambda p: p.payment_id,
)


@given(held_payments, st.integers(min_value=0, max_value=10**8), st.sampled_from(list(rules.CancelMoney)))
def test_a_cancellation_forfeits_at_most_the_deposit_and_refunds_every_other_fen(
    held: list[rules.HeldPayment], deposit_fen: int, money: rules.CancelMoney
) -> None:
    plan = rules.settle_cancellation(money, held, deposit_fen=deposit_fen)
    assert plan.forfeit_fen + sum(amount for _, amount in plan.refunds) == sum(p.held_fen for p in held)
    assert 0 <= plan.forfeit_fen <= deposit_fen
    if money is not rules.CancelMoney.FORFEIT:
        assert plan.forfeit_fen == 0
    balance_ids = {p.payment_id for p in held if not p.deposit and p.held_fen}
    assert balance_ids <= {payment_id for payment_id, _ in plan.refunds}
    deposits = sum(p.held_fen for p in held if p.deposit)
    if money is rules.CancelMoney.FORFEIT:
        assert plan.forfeit_fen == min(deposits, deposit_fen)


def test_a_locked_cancellation_keeps_the_deposit_and_returns_the_balance() -> None:
    held = [rules.HeldPayment(1, True, 500_000), rules.HeldPayment(2, False, 1_000_000)]
    plan = rules.settle_cancellation(rules.CancelMoney.FORFEIT, held, deposit_fen=500_000)
    assert plan == rules.CancelSettlement(500_000, ((2, 1_000_000),))


@pytest.mark.parametrize(
    ("status", "deposit", "held", "unusable"),
    [
        (OrderStatus.PENDING_PAYMENT, True, 500, 0),
        (OrderStatus.RESERVED, True, 1000, 500),  # a second deposit
        (OrderStatus.CANCELLED, True, 500, 500),
        (OrderStatus.LOCKED, False, 900, 0),  # the balance, before the handover
        (OrderStatus.AT_DELIVERY_CENTRE, False, 2000, 0),  # a surplus waits for the handover
        (OrderStatus.CANCELLED, False, 500, 500),  # a late balance payment
        (OrderStatus.REFUNDED, False, 500, 500),
        (OrderStatus.DELIVERED, False, 1500, 500),  # all of it is surplus over the price of 1000
        (OrderStatus.DELIVERED, False, 1200, 200),  # only part of it is
        (OrderStatus.DELIVERED, False, 1000, 0),
    ],
)
def test_a_capture_is_refunded_as_far_as_the_order_cannot_use_it(
    status: OrderStatus, deposit: bool, held: int, unusable: int
) -> None:
    assert (
        rules.unusable_capture_fen(status, deposit=deposit, amount_fen=500, held_fen=held, total_fen=1000)
        == unusable
    )


def test_what_an_order_may_keep_depends_on_how_it_ended() -> None:
    assert rules.keep_limit_fen(OrderStatus.CANCELLED, 1000) == 0
    assert rules.keep_limit_fen(OrderStatus.REFUNDED, 1000) == 0
    assert rules.keep_limit_fen(OrderStatus.DELIVERED, 1000) == 1000
    assert rules.keep_limit_fen(OrderStatus.LOCKED, 1000) is None

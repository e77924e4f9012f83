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

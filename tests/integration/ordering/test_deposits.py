"""Deposits end to end through the services and the ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.errors import ErrorCode, PaymentFailed, PolicyViolation
from carloop.ordering import deposits, locks, rules
from carloop.ordering import service as ordering
from carloop.ordering.models import EditionStock
from carloop.ordering.rules import OrderStatus
from carloop.payments import captures, ledger
from carloop.payments.models import PaymentStatus, Posting, Refund
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.payments.service import NotificationOutcome, NotificationResult

from .conftest import notify, paid_order, reserve, start


def test_paying_the_deposit_reserves_the_order_refundable_for_168_hours(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = paid_order(session, provider, buyer_id)
    assert order.status is OrderStatus.RESERVED
    assert order.paid_at is not None and order.refundable_until == order.paid_at + timedelta(hours=168)
    assert ledger.held_for_order(session=session, order_id=order.id) == order.deposit_fen == 500_000
    assert [e.to_status for e in order.events] == ["pending_payment", "reserved"]
    assert ledger.check(session=session).ok


def test_a_duplicated_notification_changes_nothing(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = reserve(session, buyer_id)
    payment = start(session, provider, order)
    form = notify(session, provider, payment)
    entries_before = ledger.check(session=session).entries
    ordering.handle_notification(session=session, provider=provider, form=form)
    notify(session, provider, payment)  # a fresh notification id, same payment
    assert ledger.check(session=session).entries == entries_before
    assert ledger.held_for_order(session=session, order_id=order.id) == order.deposit_fen
    assert len(order.events) == 2


def test_a_close_arriving_after_success_is_ignored(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = reserve(session, buyer_id)
    payment = start(session, provider, order)
    notify(session, provider, payment)
    notify(session, provider, payment, NotificationStatus.CLOSED)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert order.status is OrderStatus.RESERVED


def test_a_success_arriving_after_close_is_still_booked(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = reserve(session, buyer_id)
    payment = start(session, provider, order)
    notify(session, provider, payment, NotificationStatus.CLOSED)
    notify(session, provider, payment)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert order.status is OrderStatus.RESERVED
    assert ledger.check(session=session).ok


def test_one_batch_with_a_close_a_success_and_a_replay_books_the_payment_once(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = reserve(session, buyer_id)
    payment = start(session, provider, order)
    closed = provider.signed_notification(
        trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.CLOSED
    )
    paid = provider.signed_notification(
        trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
    )
    entries_before = ledger.check(session=session).entries
    results = captures.capture_many(
        session=session,
        provider=provider,
        forms=[closed, paid, paid],
        handlers=deposits.HANDLERS,
        lock_first=locks.lock_order_rows,
    )
    outcomes = [r.outcome for r in results if isinstance(r, NotificationResult)]
    assert outcomes == [
        NotificationOutcome.CLOSED,
        NotificationOutcome.CAPTURED,
        NotificationOutcome.DUPLICATE,
    ]
    assert payment.status is PaymentStatus.SUCCEEDED  # the object loaded before reads the new row
    assert payment.paid_at is not None
    assert payment.closed_at is not None
    assert ledger.check(session=session).entries == entries_before + 1
    assert ledger.held_for_order(session=session, order_id=order.id) == order.deposit_fen
    assert order.status is OrderStatus.RESERVED


def test_a_forged_notification_is_refused_and_changes_nothing(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = reserve(session, buyer_id)
    payment = start(session, provider, order)
    forged = SimulatorProvider(secret="not-ours").signed_notification(
        trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
    )
    with pytest.raises(PaymentFailed) as caught:
        ordering.handle_notification(session=session, provider=provider, form=forged)
    assert caught.value.code is ErrorCode.SIGNATURE_INVALID
    assert order.status is OrderStatus.PENDING_PAYMENT and payment.status is PaymentStatus.PENDING


def test_refund_is_idempotent(session: Session, provider: SimulatorProvider, buyer_id: int) -> None:
    order = paid_order(session, provider, buyer_id)
    ordering.refund_deposit(session=session, provider=provider, order=order, actor="test")
    ordering.refund_deposit(session=session, provider=provider, order=order, actor="test")
    ordering.cancel(session=session, provider=provider, order=order, actor="test")
    assert order.status is OrderStatus.REFUNDED
    refunds = session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
    assert [r.amount_fen for r in refunds] == [500_000]
    assert ledger.held_for_order(session=session, order_id=order.id) == 0
    assert ledger.check(session=session).ok


def test_locked_deposit_is_never_refunded(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = paid_order(session, provider, buyer_id)
    confirmation = rules.LockConfirmation(True, order.deposit_fen, ordering.configuration_summary(order))
    ordering.lock(session=session, order=order, confirmation=confirmation, actor="test")
    with pytest.raises(PolicyViolation) as caught:
        ordering.refund_deposit(session=session, provider=provider, order=order, actor="test")
    assert caught.value.code is ErrorCode.NOT_REFUNDABLE
    assert caught.value.data["reason"] == "locked"
    assert ledger.held_for_order(session=session, order_id=order.id) == order.deposit_fen


def test_early_lock_needs_the_explicit_confirmation(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = paid_order(session, provider, buyer_id)
    with pytest.raises(PolicyViolation):
        ordering.lock(
            session=session, order=order, confirmation=rules.LockConfirmation(True, 1, "x"), actor="test"
        )
    assert order.status is OrderStatus.RESERVED


def test_the_order_locks_itself_when_the_window_ends(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = paid_order(session, provider, buyer_id)
    assert order.refundable_until is not None
    assert ordering.auto_lock_due(session=session, now=order.refundable_until - timedelta(seconds=1)) == 0
    assert ordering.auto_lock_due(session=session, now=order.refundable_until) == 1
    assert order.status is OrderStatus.LOCKED
    assert order.events[-1].actor == "system"


def test_refund_after_the_window_is_refused_even_before_the_sweep(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = paid_order(session, provider, buyer_id)
    assert order.refundable_until is not None
    with pytest.raises(PolicyViolation):
        ordering.refund_deposit(
            session=session, provider=provider, order=order, actor="t", now=order.refundable_until
        )
    assert order.status is OrderStatus.LOCKED


def test_cancelling_a_locked_order_forfeits_the_deposit_only_when_accepted(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = paid_order(session, provider, buyer_id)
    ordering.lock(
        session=session,
        order=order,
        confirmation=rules.LockConfirmation(True, order.deposit_fen, ordering.configuration_summary(order)),
        actor="test",
    )
    with pytest.raises(PolicyViolation):
        ordering.cancel(session=session, provider=provider, order=order, actor="test")
    ordering.cancel(session=session, provider=provider, order=order, actor="test", accept_forfeit=True)
    assert order.status is OrderStatus.CANCELLED
    report = ledger.check(session=session)
    assert report.ok and report.balances["forfeited_deposits"] == -order.deposit_fen


def test_a_payment_arriving_after_cancellation_is_refunded(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = reserve(session, buyer_id)
    payment = start(session, provider, order)
    ordering.cancel(session=session, provider=provider, order=order, actor="test")
    assert order.status is OrderStatus.CANCELLED
    notify(session, provider, payment)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert ledger.held_for_order(session=session, order_id=order.id) == 0
    assert ledger.check(session=session).ok


def test_a_limited_edition_locks_at_payment_and_is_never_oversold(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    session.add(EditionStock(edition="su7-founders", capacity=2, taken=0))
    session.flush()
    # Three people, each with their own account (an account binds one identity).
    buyers = [accounts.get_or_create_customer(session=session, phone=f"1370000000{i}").id for i in range(3)]
    orders = [paid_order(session, provider, b, trim="founders") for b in buyers]
    assert [o.status for o in orders] == [OrderStatus.LOCKED, OrderStatus.LOCKED, OrderStatus.WAITLISTED]
    assert [o.edition_number for o in orders] == [1, 2, None]
    assert ledger.held_for_order(session=session, order_id=orders[2].id) == orders[2].deposit_fen
    assert rules.refundability(ordering.facts(orders[2]), orders[2].created_at).refundable
    assert not rules.refundability(ordering.facts(orders[0]), orders[0].created_at).refundable
    assert ledger.check(session=session).ok


def test_ledger_check_names_the_order_when_a_posting_is_tampered_with(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    order = paid_order(session, provider, buyer_id)
    posting = session.scalars(
        select(Posting).where(Posting.order_id == order.id, Posting.account == "customer_prepayments")
    ).one()
    session.execute(
        update(Posting).where(Posting.id == posting.id).values(amount_fen=posting.amount_fen + 100)
    )
    session.expire_all()
    report = ledger.check(session=session)
    assert not report.ok
    assert [entry_id for entry_id, _, _ in report.unbalanced_entries] == [posting.entry_id]
    assert [(m.order_id, m.difference_fen) for m in report.mismatches] == [(order.id, -100)]

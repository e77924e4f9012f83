"""The buyer's post-lock change: within 24 hours of locking, confirmed, applied once, booked once."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Principal, Role
from carloop.audit.models import AuditEntry
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import as_utc
from carloop.errors import PolicyViolation
from carloop.ordering import rules as order_rules
from carloop.ordering import service as ordering
from carloop.ordering import terms
from carloop.ordering.models import Order, OrderChange
from carloop.payments import ledger
from carloop.payments.models import Account
from carloop.production import changes, service
from carloop.production.models import Slot

from .conftest import locked_order, run_events, tiny_plan, use_plan

BIGGER = ConfigurationIn(model="su7", trim="max", options=["paint-verdant-green"])


def _buyer(order: Order) -> Principal:
    return Principal(role=Role.CUSTOMER, customer_id=order.customer_id)


def _apply(
    factory: sessionmaker[Session], number: str, config: ConfigurationIn, key: str, **kw: object
) -> OrderChange:
    with factory.begin() as session:
        order = ordering.load(session=session, number=number, for_update=True)
        quote = terms.storefront_quote(session=session, config=config)  # what the preview page showed
        confirmation = order_rules.ChangeConfirmation(True, quote.total_fen, quote.summary_en, None)
        change = changes.apply_change(
            session=session,
            principal=_buyer(order),
            order=order,
            config=config,
            confirmation=confirmation,
            key=key,
            **kw,  # type: ignore[arg-type]
        )
        session.expunge(change)
        return change


def test_a_change_within_24_hours_reprices_requeues_books_the_difference_and_is_audited(
    session_factory: sessionmaker[Session],
) -> None:
    use_plan(session_factory, tiny_plan(weekly=1))
    ahead = [
        locked_order(session_factory, phone=f"1380013800{i}", trim="max", options=["paint-verdant-green"])
        for i in range(2)
    ]
    number = locked_order(session_factory, phone="13900139000")
    run_events(session_factory)
    with session_factory() as session:
        order = ordering.load(session=session, number=number)
        before_total, locked_at = order.total_fen, order.locked_at
        seen = changes.preview(session=session, order=order, config=BIGGER)
    assert seen.difference_fen == seen.quote.total_fen - before_total > 0
    assert seen.queue_position == len(ahead) + 1  # behind the two max orders of the same configuration

    change = _apply(session_factory, number, BIGGER, key="k1")
    again = _apply(session_factory, number, BIGGER, key="k1")  # a double submit: the same change
    assert again.id == change.id and change.difference_fen == seen.difference_fen

    with session_factory() as session:
        order = ordering.load(session=session, number=number)
        assert (order.trim, order.total_fen) == ("max", seen.quote.total_fen)
        assert order.locked_at == locked_at and order.queue_position is not None
        assert order.events[-1].reason == "configuration changed after locking"
        slot = session.scalar(select(Slot).where(Slot.order_id == order.id))
        assert slot is not None and slot.trim == "max" and "paint-verdant-green" in slot.options
        assert slot.promised_latest == seen.reconfigure.proposed.window.latest
        held = ledger.account_balances(session=session)
        assert held[str(Account.PRICE_CHANGE_RECEIVABLE)] == seen.difference_fen
        assert session.scalar(select(func.count()).select_from(OrderChange)) == 1
        assert ordering.check_ledger(session=session).ok
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "order.configuration.change")
        ).all()
        assert [a.target_id for a in audited] == [number]


def test_a_cheaper_change_lowers_what_the_buyer_owes(session_factory: sessionmaker[Session]) -> None:
    use_plan(session_factory, tiny_plan(weekly=5))
    number = locked_order(session_factory, trim="max")
    run_events(session_factory)
    change = _apply(session_factory, number, ConfigurationIn(model="su7", trim="pro"), key="down")
    assert change.difference_fen < 0
    with session_factory() as session:
        assert ledger.account_balances(session=session)[str(Account.PRICE_CHANGE_RECEIVABLE)] == (
            change.difference_fen
        )
        assert ordering.check_ledger(session=session).ok


def test_after_24_hours_the_change_is_refused_and_says_until_when(
    session_factory: sessionmaker[Session],
) -> None:
    use_plan(session_factory, tiny_plan(weekly=5))
    number = locked_order(session_factory)
    run_events(session_factory)
    with session_factory() as session:
        order = ordering.load(session=session, number=number)
        assert order.locked_at is not None
        late = as_utc(order.locked_at) + timedelta(hours=24, seconds=1)
        assert changes.may_change(order, late - timedelta(seconds=2))
        assert not changes.may_change(order, late)
        with pytest.raises(PolicyViolation, match="could only change until"):
            changes.preview(session=session, order=order, config=BIGGER, now=late)


def test_an_unconfirmed_or_stale_change_is_refused_and_nothing_is_written(
    session_factory: sessionmaker[Session],
) -> None:
    use_plan(session_factory, tiny_plan(weekly=5))
    number = locked_order(session_factory)
    run_events(session_factory)
    for confirmation in (
        order_rules.ChangeConfirmation(False, 0, ""),
        order_rules.ChangeConfirmation(True, 1, "SU7 Max"),  # a price the buyer never saw
    ):
        with session_factory.begin() as session:
            order = ordering.load(session=session, number=number, for_update=True)
            apply = partial(
                changes.apply_change,
                session=session,
                principal=_buyer(order),
                order=order,
                config=BIGGER,
                confirmation=confirmation,
                key="x",
            )
            with pytest.raises(PolicyViolation):
                apply()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(OrderChange)) == 0
        assert ordering.load(session=session, number=number).trim == "pro"


def test_a_change_keeps_the_model_and_must_change_something(session_factory: sessionmaker[Session]) -> None:
    use_plan(session_factory, tiny_plan(weekly=5))
    number = locked_order(session_factory)
    run_events(session_factory)
    with session_factory() as session:
        order = ordering.load(session=session, number=number)
        with pytest.raises(PolicyViolation, match="keeps the model"):
            changes.preview(session=session, order=order, config=ConfigurationIn(model="yu7", trim="pro"))
        same = ConfigurationIn(model="su7", trim=order.trim, options=list(order.options))
        with pytest.raises(PolicyViolation, match="already has"):
            changes.preview(session=session, order=order, config=same)


def test_the_replan_keeps_everyone_else_in_lock_order(session_factory: sessionmaker[Session]) -> None:
    use_plan(session_factory, tiny_plan(weekly=1))
    numbers = [locked_order(session_factory, phone=f"1380013800{i}") for i in range(3)]
    run_events(session_factory)
    _apply(session_factory, numbers[0], BIGGER, key="first")
    with session_factory() as session:
        weeks = {s.number: s.planned_week for s in session.scalars(select(Slot))}
    week0 = min(w for w in weeks.values() if w is not None)
    assert weeks[numbers[1]] == week0 and weeks[numbers[2]] == week0 + 1  # they moved up
    assert weeks[numbers[0]] == week0 + 2  # the changed order went to the back
    assert service.today()  # the business day the plan counts from

"""Property: however a buyer changes a locked order's configuration within (and after) the 24 hours,
with double submits and stale confirmations mixed in, the books stay balanced and the price
difference is booked exactly once per applied change:

    receivable booked for the order == order.total_fen - the price it was locked at
    == the sum of the recorded changes' differences, and ``ledger check`` agrees.

Computed here from the orders and change records, independently of the books check.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Principal, Role
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import as_utc
from carloop.errors import PolicyViolation
from carloop.ordering import rules as order_rules
from carloop.ordering import service as ordering
from carloop.ordering import terms
from carloop.ordering.models import OrderChange
from carloop.payments.models import Account, JournalEntry, Posting
from carloop.production import changes
from carloop.production.models import Slot

from .conftest import locked_order, run_events, tiny_plan, use_plan

CONFIGS = [
    ConfigurationIn(model="su7", trim="pro"),
    ConfigurationIn(model="su7", trim="pro", options=["paint-verdant-green"]),
    ConfigurationIn(model="su7", trim="max"),
    ConfigurationIn(model="su7", trim="max", options=["paint-aqua-blue", "wheel-20"]),
    ConfigurationIn(model="su7", trim="standard"),
]
_phones = itertools.count(13600000000)


class ChangeMachine(RuleBasedStateMachine):
    """One locked order and a buyer who keeps changing their mind."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        super().__init__()
        self.factory = factory
        with factory.begin() as session:  # earlier examples' cars leave the plan: changes here are
            session.execute(update(Slot).values(active=False))  # stamped hours ahead of real time
        self.number = locked_order(factory, phone=str(next(_phones)))
        run_events(factory)
        with factory() as session:
            order = ordering.load(session=session, number=self.number)
            assert order.locked_at is not None
            self.locked_at = as_utc(order.locked_at)
            self.first_total = order.total_fen
            self.order_id = order.id
            self.buyer = Principal(role=Role.CUSTOMER, customer_id=order.customer_id)
        self.applied: set[str] = set()

    def _change(self, config: ConfigurationIn, key: str, hours: float, stale_fen: int = 0) -> None:
        now = self.locked_at + timedelta(hours=hours)
        try:
            with self.factory.begin() as session:
                order = ordering.load(session=session, number=self.number, for_update=True)
                quote = terms.storefront_quote(session=session, config=config)
                confirmation = order_rules.ChangeConfirmation(
                    True, quote.total_fen + stale_fen, quote.summary_en, None
                )
                changes.apply_change(
                    session=session,
                    principal=self.buyer,
                    order=order,
                    config=config,
                    confirmation=confirmation,
                    key=key,
                    now=now,
                )
        except PolicyViolation:
            assert key not in self.applied or stale_fen  # a replay of an applied key never fails
            return
        assert hours < 24 or key in self.applied  # nothing new is applied after the 24 hours
        assert not stale_fen or key in self.applied  # nor with a price the buyer never saw
        self.applied.add(key)

    @rule(
        config=st.sampled_from(CONFIGS),
        key=st.sampled_from(["a", "b", "c", "d"]),
        hours=st.floats(min_value=0, max_value=23.9),
    )
    def change_within_the_day(self, config: ConfigurationIn, key: str, hours: float) -> None:
        self._change(config, key, hours)

    @rule(config=st.sampled_from(CONFIGS), key=st.sampled_from(["late", "a"]))
    def change_too_late(self, config: ConfigurationIn, key: str) -> None:
        self._change(config, key, 24.01)

    @rule(config=st.sampled_from(CONFIGS), key=st.sampled_from(["stale", "b"]))
    def change_with_a_stale_price(self, config: ConfigurationIn, key: str) -> None:
        self._change(config, key, 1.0, stale_fen=100)

    @invariant()
    def price_difference_booked_once(self) -> None:
        with self.factory() as session:
            order = ordering.load(session=session, number=self.number)
            made = session.scalars(select(OrderChange).where(OrderChange.order_id == self.order_id)).all()
            assert {c.key for c in made} == self.applied
            booked = session.scalar(
                select(func.coalesce(func.sum(Posting.amount_fen), 0)).where(
                    Posting.account == Account.PRICE_CHANGE_RECEIVABLE, Posting.order_id == self.order_id
                )
            )
            assert booked == order.total_fen - self.first_total == sum(c.difference_fen for c in made)
            entries = session.scalar(
                select(func.count())
                .select_from(JournalEntry)
                .where(JournalEntry.order_id == self.order_id, JournalEntry.kind == "price_change")
            )
            assert entries == sum(1 for c in made if c.difference_fen)
            report = ordering.check_ledger(session=session)
            assert not report.unbalanced_entries
            assert not [a for a in report.account_mismatches if a[0].endswith(self.number)]


def test_the_ledger_stays_balanced_across_post_lock_changes(session_factory: sessionmaker[Session]) -> None:
    use_plan(session_factory, tiny_plan(weekly=3))
    run_state_machine_as_test(
        lambda: ChangeMachine(session_factory),
        settings=settings(
            max_examples=15,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

"""Fair places under real payment: unpaid reservations lapse, their places and numbers pass on.

On SQLite and PostgreSQL: a reservation unpaid at the end of its window lapses (the server's
periodic jobs run ``lapse_unpaid``), everyone behind it moves up so paid places stay gap-free, its
edition number goes to the first buyer waiting, and a deposit that still arrives is refunded. The
property test drives random reservations, payments, replays, lapses and cancellations and checks
the money and the places after each run.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reservation_builders import PROVIDER, Outcome, pay, store, ticket
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.clock import utcnow
from carloop.jobs import registry, tasks
from carloop.ordering import deposits, service
from carloop.ordering.editions import position_gaps
from carloop.ordering.models import EditionStock, Order
from carloop.ordering.rules import OrderStatus
from carloop.payments import ledger
from carloop.payments.models import Payment, PaymentPurpose, PaymentStatus, Refund

LATER = timedelta(minutes=16)  # past the default 15-minute payment window


@pytest.fixture
def buyers(session_factory: sessionmaker[Session]) -> list[int]:
    """Four customers' ids."""
    with session_factory.begin() as session:
        people = [accounts.get_or_create_customer(session=session, phone=f"1390000001{i}") for i in range(4)]
        session.flush()
        return [p.id for p in people]


def test_the_lapse_job_runs_in_the_server_on_a_schedule() -> None:
    job = registry.by_name("lapse_unpaid")
    assert job is not None and job.run is tasks.lapse_unpaid and job.next_due is tasks.next_lapse


def test_an_unpaid_reservation_lapses_and_those_behind_it_move_up(
    session_factory: sessionmaker[Session], buyers: list[int]
) -> None:
    with session_factory.begin() as session:
        first, second, third = store(session, [ticket(buyers[i], f"p{i}") for i in range(3)])
        pay(session, first, third)
    with session_factory.begin() as session:
        assert (
            deposits.lapse_unpaid(session=session, now=utcnow() + timedelta(minutes=5)) == 0
        )  # still inside
        assert deposits.lapse_unpaid(session=session, now=utcnow() + LATER) == 1
    with session_factory() as session:
        lapsed = service.load(session=session, number=second.body["number"])
        kept = service.load(session=session, number=third.body["number"])
        assert (lapsed.status, lapsed.queue_position) == (OrderStatus.CANCELLED, None)
        assert (kept.status, kept.queue_position) == (OrderStatus.RESERVED, 2)  # moved up from 3
        assert service.queue_length(session=session, model="su7") == 2
        payment = session.scalar(select(Payment).where(Payment.order_id == lapsed.id))
        assert payment is not None and payment.status is PaymentStatus.CLOSED
    with session_factory.begin() as session:
        (fourth,) = store(session, [ticket(buyers[3], "p3")])
    assert fourth.body["queue_position"] == 3  # the next place after the paid ones, no gap


def test_a_lapsed_edition_number_goes_to_the_first_buyer_waiting_and_a_late_deposit_is_refunded(
    session_factory: sessionmaker[Session], buyers: list[int]
) -> None:
    with session_factory.begin() as session:
        session.add(EditionStock(edition="su7-founders", capacity=1, taken=0))
    with session_factory.begin() as session:
        holder, waiting, behind = store(
            session, [ticket(buyers[i], f"f{i}", "founders", identity=f"id-{i}") for i in range(3)]
        )
    assert [a.body["edition_number"] for a in (holder, waiting, behind)] == [1, None, None]
    with session_factory.begin() as session:
        pay(session, behind)  # paid while waiting for a number: waitlisted
    with session_factory.begin() as session:
        # The holder and the first waiting buyer both let their windows pass; the number passes on
        # along the queue to the first buyer still there (the paid, waitlisted one), who locks.
        assert deposits.lapse_unpaid(session=session, now=utcnow() + LATER) == 2
    with session_factory() as session:
        heir = service.load(session=session, number=behind.body["number"])
        assert (heir.status, heir.edition_number, heir.queue_position) == (OrderStatus.LOCKED, 1, 1)
    with session_factory.begin() as session:
        pay(session, holder)  # the provider's notification arrives after the window: refunded
    with session_factory() as session:
        late = service.load(session=session, number=holder.body["number"])
        assert late.status is OrderStatus.CANCELLED and late.edition_number is None
        refund = session.scalar(select(Refund).where(Refund.order_id == late.id))
        assert refund is not None and refund.amount_fen == holder.body["deposit_fen"]
        assert ledger.held_for_order(session=session, order_id=late.id) == 0
        assert ledger.check(session=session).ok


def test_a_number_passed_to_an_unpaid_buyer_is_held_for_the_rest_of_their_window(
    session_factory: sessionmaker[Session], buyers: list[int]
) -> None:
    with session_factory.begin() as session:
        session.add(EditionStock(edition="su7-founders", capacity=1, taken=0))
    with session_factory.begin() as session:
        holder, waiting = store(
            session, [ticket(buyers[i], f"g{i}", "founders", identity=f"id-{i}") for i in range(2)]
        )
    with session_factory.begin() as session:
        order = service.load(session=session, number=holder.body["number"], for_update=True)
        service.cancel(session=session, provider=PROVIDER, order=order, actor="customer")
    with session_factory.begin() as session:
        heir = service.load(session=session, number=waiting.body["number"])
        assert (heir.status, heir.edition_number, heir.queue_position) == (OrderStatus.PENDING_PAYMENT, 1, 1)
        pay(session, waiting)
    with session_factory() as session:
        assert service.load(session=session, number=waiting.body["number"]).status is OrderStatus.LOCKED


# --- property: whatever happens, places, numbers and money stay right -------------------------

ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "reserve_edition", "pay", "replay", "lapse", "cancel"]),
        st.integers(0, 30),
    ),
    min_size=1,
    max_size=14,
)
_runs = itertools.count()
_phones = itertools.count()
CANCELLABLE = (OrderStatus.PENDING_PAYMENT, OrderStatus.RESERVED, OrderStatus.WAITLISTED)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_places_numbers_and_money_stay_right_whatever_happens(
    session_factory: sessionmaker[Session], buyers: list[int], actions: list[tuple[str, int]]
) -> None:
    run = f"r{next(_runs)}-{uuid.uuid4().hex[:6]}"
    with session_factory.begin() as session:
        if session.get(EditionStock, "su7-founders") is None:
            session.add(EditionStock(edition="su7-founders", capacity=2, taken=0))
    made: list[Outcome] = []
    clock = utcnow()
    for step, (action, n) in enumerate(actions):
        with session_factory.begin() as session:
            if action in ("reserve", "reserve_edition"):
                edition = action == "reserve_edition"
                # An account binds one identity: each edition step is another person's own account.
                who = (
                    accounts.get_or_create_customer(session=session, phone=f"137{next(_phones):08d}").id
                    if edition
                    else buyers[n % 4]
                )
                request = ticket(
                    who,
                    f"{run}-{step}",
                    "founders" if edition else "pro",
                    identity=f"{run}-id-{step}" if edition else None,
                )
                (answer,) = store(session, [request])
                assert answer.status == 201, answer.body
                made.append(answer)
            elif action in ("pay", "replay") and made:
                pay(session, made[n % len(made)])  # a second payment of the same order is a replay
            elif action == "lapse":
                clock += LATER
                deposits.lapse_unpaid(session=session, now=clock)
            elif action == "cancel" and made:
                order = service.load(
                    session=session, number=made[n % len(made)].body["number"], for_update=True
                )
                if order.status in (
                    OrderStatus.PENDING_PAYMENT,
                    OrderStatus.RESERVED,
                    OrderStatus.WAITLISTED,
                ):
                    service.cancel(session=session, provider=PROVIDER, order=order, actor="customer")
    with session_factory() as session:
        _check(session)


def _check(session: Session) -> None:
    """Places gap-free per model, no number twice or past capacity, each deposit held once, books balanced."""
    for model in session.scalars(select(Order.model).distinct()):
        places = session.scalars(
            select(Order.queue_position).where(Order.model == model, Order.queue_position.is_not(None))
        )
        assert position_gaps(int(p) for p in places if p is not None) == 0, model
    stock = session.get(EditionStock, "su7-founders")
    held = session.scalars(
        select(Order.edition_number).where(
            Order.edition == "su7-founders",
            Order.edition_number.is_not(None),
            Order.status.not_in([OrderStatus.CANCELLED, OrderStatus.REFUNDED]),
        )
    ).all()
    assert len(held) == len(set(held)) and all(1 <= n <= (stock.capacity if stock else 0) for n in held)
    for order in session.scalars(select(Order)):
        want = (
            order.deposit_fen
            if order.status in (OrderStatus.RESERVED, OrderStatus.LOCKED, OrderStatus.WAITLISTED)
            else 0
        )
        assert ledger.held_for_order(session=session, order_id=order.id) == want, (order.number, order.status)
        if order.status is OrderStatus.PENDING_PAYMENT:
            assert order.queue_position is not None and order.payment_due_at is not None
    succeeded = session.execute(
        select(Payment.order_id, func.count())
        .where(Payment.purpose == PaymentPurpose.DEPOSIT, Payment.status == PaymentStatus.SUCCEEDED)
        .group_by(Payment.order_id)
    ).all()
    assert all(count == 1 for _, count in succeeded)  # one deposit payment per order, captured once
    assert ledger.check(session=session).ok

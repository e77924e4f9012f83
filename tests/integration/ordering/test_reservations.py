"""``reserve_many`` on SQLite and PostgreSQL: places, keys, edition numbers held, then paid or not."""

from __future__ import annotations

import pytest
from reservation_builders import PROVIDER, Outcome, pay, store, ticket
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.clock import utcnow
from carloop.ordering import rules, service
from carloop.ordering.editions import position_gaps
from carloop.ordering.models import EditionStock, Order
from carloop.ordering.reservations import ReservationRequest
from carloop.ordering.rules import OrderStatus
from carloop.payments import ledger
from carloop.payments.models import Payment


@pytest.fixture
def buyers(session_factory: sessionmaker[Session]) -> list[int]:
    """Three customers' ids."""
    with session_factory.begin() as session:
        people = [accounts.get_or_create_customer(session=session, phone=f"1390000000{i}") for i in range(3)]
        session.flush()
        return [p.id for p in people]


def commit(factory: sessionmaker[Session], tickets: list[ReservationRequest]) -> list[Outcome]:
    """One group commit."""
    with factory.begin() as session:
        return store(session, tickets)


def paid(factory: sessionmaker[Session], *answers: Outcome) -> None:
    """The deposits of these reservations captured in one batch of notifications."""
    with factory.begin() as session:
        pay(session, *answers)


def test_positions_are_gapless_per_model_in_arrival_order_across_batches(
    session_factory: sessionmaker[Session], buyers: list[int]
) -> None:
    first = commit(
        session_factory,
        [
            ticket(
                buyers[0], f"a{i}", model="su7" if i % 3 else "yu7", trim="standard" if i % 3 == 0 else "pro"
            )
            for i in range(7)
        ],
    )
    second = commit(session_factory, [ticket(buyers[1], f"b{i}") for i in range(4)])
    su7 = [o.body["queue_position"] for o in first + second if o.body["model"] == "su7"]
    assert su7 == list(range(1, len(su7) + 1))
    with session_factory() as session:
        for model in ("su7", "yu7"):
            found = session.scalars(select(Order.queue_position).where(Order.model == model))
            assert position_gaps(p for p in found if p is not None) == 0


def test_a_retry_racing_its_original_in_the_same_batch_gets_the_same_order(
    session_factory: sessionmaker[Session], buyers: list[int]
) -> None:
    original, retry = commit(session_factory, [ticket(buyers[0], "k"), ticket(buyers[0], "k")])
    assert original.status == retry.status == 201
    assert retry.replayed and retry.body == original.body
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1
        assert session.scalar(select(func.count()).select_from(Payment)) == 1


def test_a_retry_in_a_later_batch_replays_the_first_answer_without_a_second_charge(
    session_factory: sessionmaker[Session], buyers: list[int]
) -> None:
    (original,) = commit(session_factory, [ticket(buyers[0], "k")])
    (retry,) = commit(session_factory, [ticket(buyers[0], "k"), ticket(buyers[1], "other")])[:1]
    assert retry.replayed and retry.body == original.body
    paid(session_factory, original)
    (after,) = commit(session_factory, [ticket(buyers[0], "k")])
    assert after.replayed and after.body == {**original.body, "status": "reserved"}  # as it stands now
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 2
        assert ledger.check(session=session).ok


def test_the_same_key_from_another_buyer_is_another_order(
    session_factory: sessionmaker[Session], buyers: list[int]
) -> None:
    mine, theirs = commit(session_factory, [ticket(buyers[0], "k"), ticket(buyers[1], "k")])
    assert mine.body["number"] != theirs.body["number"] and not theirs.replayed


def test_a_key_reused_for_a_different_request_is_refused(
    session_factory: sessionmaker[Session], buyers: list[int]
) -> None:
    commit(session_factory, [ticket(buyers[0], "k", trim="pro")])
    (reused,) = commit(session_factory, [ticket(buyers[0], "k", trim="max")])
    assert reused.status == 409 and reused.body["code"] == "idempotency-key-reused"


def test_edition_units_go_in_queue_order_then_buyers_wait_and_one_identity_is_limited(
    session_factory: sessionmaker[Session], buyers: list[int]
) -> None:
    with session_factory.begin() as session:
        session.add(EditionStock(edition="su7-founders", capacity=2, taken=0))
    out = commit(
        session_factory,
        [
            ticket(buyers[0], "e1", "founders", identity="id-a"),
            ticket(buyers[1], "e2", "founders", identity="id-b"),
            ticket(buyers[2], "e3", "founders", identity="id-c"),
            ticket(buyers[0], "e4", "founders", identity="id-a"),  # the same person again: refused
            ticket(buyers[0], "e5", "founders"),  # no number typed: the account's bound identity counts
        ],
    )
    assert [o.status for o in out] == [201, 201, 201, 409, 409]
    assert out[4].body["code"] == "edition-limit-reached"
    assert [o.body.get("edition_number") for o in out[:3]] == [1, 2, None]  # held while unpaid
    assert [o.body["status"] for o in out[:3]] == ["pending_payment"] * 3
    assert out[3].body["code"] == "edition-limit-reached"
    paid(session_factory, *out[:3])
    with session_factory() as session:
        statuses = [service.load(session=session, number=o.body["number"]).status for o in out[:3]]
    assert statuses == [OrderStatus.LOCKED, OrderStatus.LOCKED, OrderStatus.WAITLISTED]
    with session_factory() as session:
        assert ledger.check(session=session).ok
        assert session.scalar(select(func.count()).where(Order.edition_number.is_not(None))) == 2


def test_a_cancelled_edition_order_hands_its_unit_to_the_first_buyer_waiting(
    session_factory: sessionmaker[Session], buyers: list[int]
) -> None:
    with session_factory.begin() as session:
        session.add(EditionStock(edition="su7-founders", capacity=1, taken=0))
    out = commit(
        session_factory,
        [ticket(buyers[i], f"e{i}", "founders", identity=f"id-{i}") for i in range(3)],
    )
    paid(session_factory, *out)
    holder, first_waiting, second_waiting = (o.body["number"] for o in out)
    with session_factory.begin() as session:
        order = service.load(session=session, number=holder, for_update=True)
        service.cancel(session=session, provider=PROVIDER, order=order, actor="customer", accept_forfeit=True)
    with session_factory() as session:
        heir = service.load(session=session, number=first_waiting)
        still = service.load(session=session, number=second_waiting)
        gone = service.load(session=session, number=holder)
        assert (heir.status, heir.edition_number) == (OrderStatus.LOCKED, 1)
        assert (still.status, still.edition_number) == (OrderStatus.WAITLISTED, None)
        assert (gone.status, gone.edition_number) == (OrderStatus.CANCELLED, None)
        assert ledger.check(session=session).ok


def test_a_waitlisted_buyer_can_leave_with_the_deposit_refunded(
    session_factory: sessionmaker[Session], buyers: list[int]
) -> None:
    with session_factory.begin() as session:
        session.add(EditionStock(edition="su7-founders", capacity=1, taken=0))
    out = commit(
        session_factory, [ticket(buyers[i], f"e{i}", "founders", identity=f"id-{i}") for i in range(2)]
    )
    paid(session_factory, *out)
    with session_factory.begin() as session:
        waiting = service.load(session=session, number=out[1].body["number"], for_update=True)
        verdict = rules.refundability(service.facts(waiting), utcnow())
        assert verdict.refundable and verdict.until is not None
        service.refund_deposit(session=session, provider=PROVIDER, order=waiting, actor="customer")
    with session_factory() as session:
        assert service.load(session=session, number=out[1].body["number"]).status is OrderStatus.REFUNDED
        report = ledger.check(session=session)
        assert report.ok


def test_a_unit_given_back_with_nobody_waiting_is_the_next_one_given(
    session_factory: sessionmaker[Session], buyers: list[int]
) -> None:
    with session_factory.begin() as session:
        session.add(EditionStock(edition="su7-founders", capacity=2, taken=0))
    first = commit(session_factory, [ticket(buyers[0], "e0", "founders", identity="id-0")])
    paid(session_factory, *first)
    with session_factory.begin() as session:
        order = service.load(session=session, number=first[0].body["number"], for_update=True)
        service.cancel(session=session, provider=PROVIDER, order=order, actor="customer", accept_forfeit=True)
    later = commit(
        session_factory,
        [
            ticket(buyers[1], "e1", "founders", identity="id-1"),
            ticket(buyers[2], "e2", "founders", identity="id-2"),
        ],
    )
    assert [o.body["edition_number"] for o in later] == [1, 2]

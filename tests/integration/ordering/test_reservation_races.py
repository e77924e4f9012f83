"""Retries racing their original in another transaction or another process get the original answer.

``reserve_many`` claims each ``Idempotency-Key`` with ``INSERT ... ON CONFLICT DO NOTHING``.
On PostgreSQL (READ COMMITTED) a claim that meets another batch's uncommitted claim waits for that
batch to end, then must replay what it stored; if that batch rolled back, the claim is its own.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator

import pytest
from reservation_builders import Outcome, store, ticket
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.db import make_engine, make_session_factory
from carloop.ordering.models import EditionStock, IdempotencyRecord, Order
from carloop.ordering.reservations import ReservationRequest
from carloop.payments import ledger
from carloop.payments.models import Payment
from carloop.settings import Settings

Tickets = list[ReservationRequest]


@pytest.fixture
def buyers(session_factory: sessionmaker[Session]) -> list[int]:
    """Three customers' ids."""
    with session_factory.begin() as session:
        people = [accounts.get_or_create_customer(session=session, phone=f"1390000000{i}") for i in range(3)]
        session.flush()
        return [p.id for p in people]


@pytest.fixture
def founders(session_factory: sessionmaker[Session]) -> None:
    """An edition of three units."""
    with session_factory.begin() as session:
        session.add(EditionStock(edition="su7-founders", capacity=3, taken=0))


def _held_open(factory: sessionmaker[Session], tickets: list[ReservationRequest]) -> Iterator[list[Outcome]]:
    """Store a batch and keep its transaction open until the generator is resumed (then commit)."""
    with factory.begin() as session:
        yield store(session, tickets)


def _in_thread(
    factory: sessionmaker[Session], tickets: list[ReservationRequest]
) -> tuple[threading.Thread, dict]:  # type: ignore[type-arg]
    out: dict = {}  # type: ignore[type-arg]

    def run() -> None:
        try:
            with factory.begin() as session:
                out["outcomes"] = store(session, tickets)
        except Exception as err:
            out["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_a_retry_waiting_on_the_originals_uncommitted_claim_replays_its_answer(
    session_factory: sessionmaker[Session], buyers: list[int], founders: None
) -> None:
    original = ticket(buyers[0], "k", "founders", identity="id-a")
    holder = _held_open(session_factory, [original, ticket(buyers[1], "other")])
    first, _ = next(holder)
    assert first.status == 201 and not first.replayed
    # Another batch (another process on launch day) has the retry twice and a new order of its own.
    retry = ticket(buyers[0], "k", "founders", identity="id-a")
    thread, out = _in_thread(session_factory, [ticket(buyers[2], "third"), retry, retry])
    time.sleep(0.5)  # it waits on the open claim (PostgreSQL) or on the write lock (SQLite)
    assert thread.is_alive()
    next(holder, None)  # commit the original
    thread.join(timeout=30)
    assert "error" not in out, out.get("error")
    third, again, again_in_batch = out["outcomes"]
    assert third.status == 201
    for answer in (again, again_in_batch):
        assert answer.status == 201 and answer.replayed
        assert answer.body == first.body
    with session_factory() as session:
        assert session.scalar(select(func.count()).where(Order.intake_key == "k")) == 1
        assert session.scalar(select(func.count()).select_from(Payment)) == 3
        assert ledger.check(session=session).ok


def test_a_claim_whose_batch_rolls_back_passes_to_the_waiting_retry(
    session_factory: sessionmaker[Session], buyers: list[int], founders: None
) -> None:
    session = session_factory()
    session.begin()
    try:
        (first,) = store(session, [ticket(buyers[0], "k", "founders", identity="id-a")])
        assert first.status == 201
        thread, out = _in_thread(session_factory, [ticket(buyers[0], "k", "founders", identity="id-a")])
        time.sleep(0.5)
        assert thread.is_alive()
    finally:
        session.rollback()  # the first batch failed: its claim and its order are gone
        session.close()
    thread.join(timeout=30)
    assert "error" not in out, out.get("error")
    (retry,) = out["outcomes"]
    assert retry.status == 201 and not retry.replayed  # the retry is now the one that stored it
    with session_factory() as check:
        assert check.scalar(select(func.count()).where(Order.intake_key == "k")) == 1
        record = check.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "k"))
        assert record is not None and record.response == {"number": retry.body["number"]}


# --- two processes ------------------------------------------------------------------------------

KEYS = 60
ROUNDS = 12


def _plan(worker: int) -> list[list[tuple[int, str, str | None]]]:
    """Batches of (buyer index, key, identity): every key sent by both workers, in other orders."""
    import random

    rng = random.Random(worker)
    batches = []
    for _ in range(ROUNDS):
        picks = [rng.randrange(KEYS) for _ in range(rng.randint(5, 25))]
        batches.append(
            [(k % 3, f"k{k}", f"id-{k % 3}" if k % 4 == 0 else None) for k in picks]  # some edition tries
        )
    return batches


def _worker(url: str, worker: int, customer_ids: list[int], queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    engine = make_engine(Settings(environment="test", database_url=url))
    factory = make_session_factory(engine)
    seen = []
    try:
        for batch in _plan(worker):
            tickets = [
                ticket(customer_ids[b], key, "founders" if identity else "pro", identity=identity)
                for b, key, identity in batch
            ]
            for attempt in range(5):
                try:
                    with factory.begin() as session:
                        outcomes = store(session, tickets)
                    break
                except Exception:  # the writer retries a failed batch the same way
                    if attempt == 4:
                        raise
                    time.sleep(0.05)
            seen += [
                (t.scope, t.key, o.status, o.body.get("number"), o.body.get("code"))
                for t, o in zip(tickets, outcomes, strict=True)
            ]
    finally:
        engine.dispose()
    queue.put(seen)


def test_two_processes_sending_the_same_keys_get_one_answer_per_key(
    database_url: str, session_factory: sessionmaker[Session], buyers: list[int], founders: None
) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(database_url, n, buyers, queue)) for n in range(2)]
    for p in procs:
        p.start()
    answers = [a for _ in procs for a in queue.get(timeout=240)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    with session_factory() as session:
        stored = {
            (r.scope, r.key): (r.status_code, r.response) for r in session.scalars(select(IdempotencyRecord))
        }
        orders = {o.intake_key: o for o in session.scalars(select(Order))}
        per_identity = session.execute(
            select(Order.identity_hash, func.count())
            .where(Order.identity_hash.is_not(None))
            .group_by(Order.identity_hash)
        ).all()
        assert ledger.check(session=session).ok
    assert len(answers) > 2 * ROUNDS
    for scope, key, status, number, code in answers:
        if status != 201:  # a refused request gives its key back: nothing is stored under it
            assert (scope, key) not in stored and code == "edition-limit-reached", key
            continue
        want_status, want_body = stored[(scope, key)]
        assert (status, number) == (want_status, want_body.get("number")), key
        assert orders[key].number == number
    assert all(count <= 1 for _, count in per_identity)  # the edition's limit: one per identity

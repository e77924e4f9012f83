"""Receipt numbers: one receipt per captured payment and refund, gap-free per year, even under races.

Every capture and refund books a journal entry (``payments.ledger``), and the entry's receipt is
numbered in the same transaction from a counter row the transaction holds locked; on PostgreSQL the
races below run truly concurrently, on SQLite the writers queue. A transaction that rolls back must
give its number back, or the year's sequence would have a hole.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.catalog.schemas import ConfigurationIn
from carloop.ordering import service as ordering
from carloop.payments import ledger
from carloop.payments import rules as money
from carloop.payments.models import JournalEntry, Payment
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.receipts import rules
from carloop.receipts import service as receipts
from carloop.receipts.models import DocumentCounter, Receipt, ReceiptKind

PROVIDER = SimulatorProvider(secret="receipts")
_phones = itertools.count(13600000000)
_runs = itertools.count()


class Rollback(Exception):
    """Raised inside a transaction to abandon it after its money (and receipt) was booked."""


def race(*actions: Callable[[], None]) -> list[BaseException]:
    """Run the actions in threads released together; the errors they raised."""
    barrier = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def run(action: Callable[[], None]) -> None:
        barrier.wait()
        try:
            action()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def pending_deposit(factory: sessionmaker[Session]) -> tuple[int, str, int]:
    """A reserved order and its started deposit payment: (order id, trade no, amount)."""
    with factory.begin() as session:
        buyer = accounts.get_or_create_customer(session=session, phone=str(next(_phones)))
        order = ordering.reserve(
            session=session, customer_id=buyer.id, config=ConfigurationIn(model="su7", trim="pro")
        )
        payment = ordering.start_deposit_payment(
            session=session, provider=PROVIDER, order=order, base_url="http://t/"
        )
        return order.id, payment.trade_no, payment.amount_fen


def capture(factory: sessionmaker[Session], trade_no: str, amount_fen: int, *, fail: bool = False) -> None:
    """Deliver the signed capture of a payment in its own transaction (rolled back when ``fail``)."""
    form = PROVIDER.signed_notification(
        trade_no=trade_no, amount_fen=amount_fen, status=NotificationStatus.SUCCEEDED
    )
    with factory.begin() as session:
        ordering.handle_notification(session=session, provider=PROVIDER, form=form)
        if fail:
            raise Rollback(trade_no)


def all_receipts(factory: sessionmaker[Session]) -> list[Receipt]:
    with factory() as session:
        return list(session.scalars(select(Receipt).order_by(Receipt.year, Receipt.seq)))


def assert_gap_free(found: list[Receipt]) -> None:
    """Each year's receipts are numbered 1..n with no hole and no repeat, and the number says so."""
    by_year: dict[int, list[int]] = {}
    for r in found:
        by_year.setdefault(r.year, []).append(r.seq)
        assert r.number == rules.document_number(rules.RECEIPT_SERIES, r.year, r.seq)
    for seqs in by_year.values():
        assert sorted(seqs) == list(range(1, len(seqs) + 1))


def test_capture_issues_one_receipt_and_a_replay_none(session_factory: sessionmaker[Session]) -> None:
    order_id, trade_no, amount = pending_deposit(session_factory)
    capture(session_factory, trade_no, amount)
    capture(session_factory, trade_no, amount)  # the provider's replay
    found = all_receipts(session_factory)
    assert [(r.kind, r.reference, r.order_id, r.amount_fen) for r in found] == [
        (ReceiptKind.PAYMENT, trade_no, order_id, amount)
    ]
    assert found[0].seq == 1


def test_refund_gets_its_own_receipt_once(session_factory: sessionmaker[Session]) -> None:
    order_id, trade_no, amount = pending_deposit(session_factory)
    capture(session_factory, trade_no, amount)
    for _ in range(2):  # the second refund of the same order changes nothing
        with session_factory.begin() as session:
            order = ordering.load(session=session, number=_number(session, order_id))
            ordering.refund_deposit(session=session, provider=PROVIDER, order=order, actor="t")
    found = all_receipts(session_factory)
    assert [(r.kind, r.seq, r.amount_fen) for r in found] == [
        (ReceiptKind.PAYMENT, 1, amount),
        (ReceiptKind.REFUND, 2, amount),
    ]
    assert found[1].reference == f"RF-{trade_no}"


def _number(session: Session, order_id: int) -> str:
    from carloop.ordering.models import Order

    order = session.get(Order, order_id)
    assert order is not None
    return order.number


def test_concurrent_captures_get_gap_free_numbers(session_factory: sessionmaker[Session]) -> None:
    """Eight captures at once, three of which roll back after booking: five receipts, numbered 1..5."""
    payments = [pending_deposit(session_factory) for _ in range(8)]
    failing = {1, 4, 6}
    errors = race(
        *(
            (lambda t=t, a=a, f=(i in failing): capture(session_factory, t, a, fail=f))
            for i, (_, t, a) in enumerate(payments)
        )
    )
    assert sorted(str(e) for e in errors) == sorted(payments[i][1] for i in failing)
    assert all(isinstance(e, Rollback) for e in errors)
    found = all_receipts(session_factory)
    assert_gap_free(found)
    assert sorted(r.reference for r in found) == sorted(
        t for i, (_, t, _) in enumerate(payments) if i not in failing
    )
    with session_factory() as session:
        counter = session.scalars(select(DocumentCounter)).one()
        assert counter.last == len(found) == 5


def test_concurrent_replays_of_one_capture_issue_one_receipt(session_factory: sessionmaker[Session]) -> None:
    _, trade_no, amount = pending_deposit(session_factory)
    errors = race(*(lambda: capture(session_factory, trade_no, amount) for _ in range(4)))
    assert errors == []
    found = all_receipts(session_factory)
    assert [(r.reference, r.seq) for r in found] == [(trade_no, 1)]


def test_numbers_restart_each_shanghai_year(session_factory: sessionmaker[Session]) -> None:
    """31 Dec 16:00 UTC is already 1 January in Shanghai: the new year's sequence starts at 1."""
    with session_factory.begin() as session:
        before = receipts.allocate(
            session=session,
            series="R",
            year=rules.year_of(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)),
            count=2,
        )
        after = receipts.allocate(
            session=session,
            series="R",
            year=rules.year_of(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)),
            count=1,
        )
        again = receipts.allocate(session=session, series="R", year=2026, count=1)
    assert (list(before), list(after), list(again)) == ([1, 2], [1], [3])


# One step of the property: book a journal entry (kind, key index, rolled back?).
STEP = st.tuples(st.sampled_from(["payment", "refund", "forfeit"]), st.integers(0, 5), st.booleans())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, max_size=12))
def test_every_booked_payment_and_refund_has_one_receipt_and_numbers_have_no_gap(
    session_factory: sessionmaker[Session], steps: list[tuple[str, int, bool]]
) -> None:
    """Whatever entries are booked, replayed or rolled back, committed payment and refund entries and
    receipts match one to one, and the receipt numbers are exactly 1..n."""
    run = next(_runs)
    # the property's own entries carry no order, so the journal keys alone tell them apart
    for kind, key, fail in steps:
        try:
            with session_factory.begin() as session:
                lines = (
                    money.payment_received(None, 100 + key)
                    if kind == "payment"
                    else money.refund_paid(None, 100 + key)
                )
                ledger.post(session=session, key=f"{kind}:prop{run}-{key}", kind=kind, lines=lines)
                if fail:
                    raise Rollback(kind)
        except Rollback:
            pass
    with session_factory() as session:
        entries = {
            (e.id, e.idempotency_key)
            for e in session.scalars(select(JournalEntry).where(JournalEntry.kind.in_(["payment", "refund"])))
        }
        found = list(session.scalars(select(Receipt)))
        assert {(r.entry_id, r.source_key) for r in found} == entries
        assert all(r.amount_fen == 100 + int(r.reference.rpartition("-")[2]) for r in found)
    assert_gap_free(found)


def test_store_payments_get_receipts_too(session_factory: sessionmaker[Session]) -> None:
    """A balance taken at a store's till is booked through the same ledger, so it is receipted too."""
    from carloop.accounts.schemas import Principal, Role
    from carloop.payments import service as payments

    order_id, trade_no, amount = pending_deposit(session_factory)
    capture(session_factory, trade_no, amount)
    staff = Principal(role=Role.STORE_STAFF, staff_id=1, store_id=1)
    with session_factory.begin() as session:
        payments.record_store_payment(
            session=session, principal=staff, order_id=order_id, amount_fen=1000, reference="TILL-1"
        )
    found = all_receipts(session_factory)
    assert [(r.kind, r.amount_fen) for r in found][-1] == (ReceiptKind.PAYMENT, 1000)
    with session_factory() as session:
        store = session.scalars(select(Payment).where(Payment.provider == "store")).one()
    assert found[-1].reference == store.trade_no

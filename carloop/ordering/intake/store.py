"""One group commit of the launch intake: many paid reservations in one transaction.

For a batch of tickets (requests already validated against the compiled catalog), in one
transaction and a fixed lock order (idempotency keys sorted, then counters by model, then edition
stock), it claims each ``Idempotency-Key`` or finds the answer already given for it, applies the
edition's anti-scalper limit, takes gapless queue positions with one UPDATE per model, gives edition
numbers in arrival order (the rest wait), captures each deposit through the simulator's signed
notification and books it in the ledger, writes the orders, their first timeline event and outbox
events, and stores every answer under its key. Nothing is answered before the caller commits.
"""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carloop.catalog import service as catalog
from carloop.catalog.schemas import Quote
from carloop.db import Base
from carloop.ordering import events, rules
from carloop.ordering.intake import rules as intake_rules
from carloop.ordering.models import (
    EditionReturn,
    EditionStock,
    IdempotencyRecord,
    Order,
    OrderEvent,
    QueueCounter,
)
from carloop.ordering.rules import OrderStatus
from carloop.outbox.models import OutboxEvent
from carloop.payments import rules as money_rules
from carloop.payments.models import (
    JournalEntry,
    NotificationLog,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Posting,
)
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PATH = "/api/v1/intake/orders"


@dataclass(slots=True)
class Ticket:
    """One validated, authenticated reservation waiting for its group commit."""

    scope: str  # the principal's actor label, as the FastAPI routes use for idempotency
    customer_id: int
    key: str
    request_hash: str
    quote: Quote
    quote_json: dict[str, Any]
    identity_hash: str | None


@dataclass(slots=True)
class Outcome:
    """The answer to one ticket: HTTP status, JSON body, and whether it replays an earlier answer."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(slots=True)
class _Plan:
    ticket: Ticket
    record_id: int = 0
    number: str = ""
    trade_no: str = ""
    status: OrderStatus = OrderStatus.RESERVED
    position: int = 0
    edition_number: int | None = None
    outcome: Outcome | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _t(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


@cache
def policies() -> dict[str, intake_rules.ScalperPolicy]:
    """The anti-scalper policies of the editions (read once per process)."""
    with (files("carloop.ordering") / "data" / "edition_policies.toml").open("rb") as fh:
        return intake_rules.parse_policies(tomllib.load(fh))


def _problem(status: int, code: str, detail: str, **extra: Any) -> Outcome:
    body = {
        "type": "https://carloop.dev/problems/" + code,
        "title": {409: "Conflict", 422: "Unprocessable Content"}.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": PATH,
        **extra,
    }
    return Outcome(status, body)


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def store_batch(
    *, session: Session, tickets: Sequence[Ticket], provider: SimulatorProvider, now: datetime
) -> list[Outcome]:
    """Store a batch of reservations in the caller's transaction; one outcome per ticket, in order."""
    outcomes: list[Outcome | None] = [None] * len(tickets)
    first_of: dict[tuple[str, str], int] = {}
    followers: list[tuple[int, int]] = []
    for i, t in enumerate(tickets):
        j = first_of.setdefault((t.scope, t.key), i)
        if j != i:
            followers.append((i, j))
    plans = {i: _Plan(tickets[i]) for i in first_of.values()}
    _claim_keys(session, plans, outcomes, now)
    fresh = [plans[i] for i in sorted(plans) if outcomes[i] is None]
    _apply_scalper_limits(session, fresh)
    stored = [p for p in fresh if p.outcome is None]
    _take_positions(session, stored)
    _take_edition_units(session, stored)
    _write(session, stored, provider, now)
    _record_answers(session, fresh)
    for i, plan in plans.items():
        if outcomes[i] is None:
            outcomes[i] = plan.outcome
    for i, j in followers:
        first = outcomes[j]
        assert first is not None
        if tickets[i].request_hash != tickets[j].request_hash:
            outcomes[i] = _mismatch()
        else:
            outcomes[i] = Outcome(first.status, first.body, replayed=True)
    return [o for o in outcomes if o is not None]


def _mismatch() -> Outcome:
    return _problem(
        409, "idempotency-key-reused", "This Idempotency-Key was already used for a different request."
    )


def _claim_keys(
    session: Session, plans: dict[int, _Plan], outcomes: list[Outcome | None], now: datetime
) -> None:
    table = _t(IdempotencyRecord)
    ordered = sorted(plans.items(), key=lambda item: (item[1].ticket.scope, item[1].ticket.key))
    rows = [
        {
            "scope": p.ticket.scope,
            "key": p.ticket.key,
            "request_hash": p.ticket.request_hash,
            "status_code": 0,
            "response": {},
            "created_at": now,
        }
        for _, p in ordered
    ]
    stmt = _insert(session, table).on_conflict_do_nothing(index_elements=["scope", "key"])
    claimed: dict[tuple[str, str], int] = {}
    if rows:  # one multi-row statement in key order: every process locks keys in the same order
        result = session.execute(stmt.values(rows).returning(table.c.id, table.c.scope, table.c.key))
        claimed = {(scope, key): int(rid) for rid, scope, key in result}
    taken = [(i, p) for i, p in ordered if (p.ticket.scope, p.ticket.key) not in claimed]
    if taken:
        found = {
            (r.scope, r.key): r
            for r in session.execute(
                select(
                    table.c.scope, table.c.key, table.c.request_hash, table.c.status_code, table.c.response
                ).where(
                    tuple_(table.c.scope, table.c.key).in_([(p.ticket.scope, p.ticket.key) for _, p in taken])
                )
            )
        }
        for i, p in taken:
            rec = found.get((p.ticket.scope, p.ticket.key))
            if rec is None or not rec.status_code:
                raise RuntimeError(
                    "an idempotency key was neither claimed nor answered"
                )  # retried by the writer
            if rec.request_hash != p.ticket.request_hash:
                outcomes[i] = _mismatch()
            else:
                outcomes[i] = Outcome(int(rec.status_code), dict(rec.response), replayed=True)
    for i, p in ordered:
        if outcomes[i] is None:
            p.record_id = claimed[(p.ticket.scope, p.ticket.key)]


def _apply_scalper_limits(session: Session, fresh: list[_Plan]) -> None:
    by_edition: dict[str, list[_Plan]] = {}
    for p in fresh:
        edition = p.ticket.quote.edition
        if edition:
            if not p.ticket.identity_hash:
                p.outcome = _problem(
                    422,
                    "identity-required",
                    "A limited edition needs the buyer's verified identity number.",
                    field="id_number",
                )
            else:
                by_edition.setdefault(edition, []).append(p)
    table = _t(Order)
    for edition in sorted(by_edition):
        group = by_edition[edition]
        _lock_stock(session, edition)  # serialises editions across processes before counting
        limit = intake_rules.policy_for(policies(), edition).max_orders_per_identity
        identities = [p.ticket.identity_hash or "" for p in group]
        rows = session.execute(
            select(table.c.identity_hash, func.count())
            .where(
                table.c.edition == edition,
                table.c.identity_hash.in_(set(identities)),
                table.c.status.not_in([str(OrderStatus.CANCELLED), str(OrderStatus.REFUNDED)]),
            )
            .group_by(table.c.identity_hash)
        )
        held = {str(identity): int(count) for identity, count in rows}
        for p, ok in zip(group, intake_rules.admit_by_identity(identities, held, limit), strict=True):
            if not ok:
                p.outcome = _problem(
                    409,
                    "edition-limit-reached",
                    f"One verified identity may hold at most {limit} order(s) of edition {edition}.",
                    edition=edition,
                    limit=limit,
                )


def _lock_stock(session: Session, edition: str) -> EditionStock:
    stmt = _insert(session, _t(EditionStock)).on_conflict_do_nothing(index_elements=["edition"])
    session.execute(stmt.values(edition=edition, capacity=catalog.edition_units(edition), taken=0))
    stock = session.scalar(
        select(EditionStock)
        .where(EditionStock.edition == edition)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert stock is not None
    return stock


def _take_positions(session: Session, stored: list[_Plan]) -> None:
    by_model: dict[str, list[_Plan]] = {}
    for p in stored:
        by_model.setdefault(p.ticket.quote.model, []).append(p)
    table = _t(QueueCounter)
    for model in sorted(by_model):
        group = by_model[model]
        session.execute(
            _insert(session, table)
            .on_conflict_do_nothing(index_elements=["model"])
            .values(model=model, last=0)
        )
        last = session.execute(
            update(table)
            .where(table.c.model == model)
            .values(last=table.c.last + len(group))
            .returning(table.c.last)
        ).scalar_one()
        for p, position in zip(
            group, intake_rules.positions(int(last) - len(group), len(group)), strict=True
        ):
            p.position = position


def _take_edition_units(session: Session, stored: list[_Plan]) -> None:
    by_edition: dict[str, list[_Plan]] = {}
    for p in stored:
        q = p.ticket.quote
        p.status = rules.status_after_deposit(lock_at_payment=q.deposit.lock_at_payment)
        if q.edition:
            by_edition.setdefault(q.edition, []).append(p)
    for edition in sorted(by_edition):
        group = by_edition[edition]
        stock = _lock_stock(session, edition)
        returns = list(
            session.scalars(
                select(EditionReturn.number).where(EditionReturn.edition == edition).with_for_update()
            )
        )
        grant = intake_rules.grant_units(
            len(group), capacity=stock.capacity, taken=stock.taken, returns=returns
        )
        stock.taken = grant.taken
        if grant.returns_used:
            session.execute(
                _t(EditionReturn)
                .delete()
                .where(EditionReturn.edition == edition, EditionReturn.number.in_(grant.returns_used))
            )
        for p, number in zip(group, grant.numbers, strict=True):
            p.edition_number = number
            if number is None:
                p.status = OrderStatus.WAITLISTED
    session.flush()


def _order_number(model: str) -> str:
    return f"{model.upper()[:6]}-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def _write(session: Session, stored: list[_Plan], provider: SimulatorProvider, now: datetime) -> None:
    if not stored:
        return
    orders = _t(Order)
    order_rows = []
    for p in stored:
        t, q = p.ticket, p.ticket.quote
        p.number = _order_number(q.model)
        p.trade_no = "P" + secrets.token_hex(10).upper()
        refundable_until = (
            rules.refundable_until(
                now, refundable_hours=q.deposit.refundable_hours, lock_at_payment=q.deposit.lock_at_payment
            )
            if p.status is OrderStatus.RESERVED
            else (rules.waitlist_until(now) if p.status is OrderStatus.WAITLISTED else None)
        )
        order_rows.append(
            {
                "number": p.number,
                "customer_id": t.customer_id,
                "status": p.status,
                "model": q.model,
                "trim": q.trim,
                "options": list(q.options),
                "catalog_version": q.catalog_version,
                "quote": t.quote_json,
                "total_fen": q.total_fen,
                "deposit_fen": q.deposit.amount_fen,
                "refundable_hours": q.deposit.refundable_hours,
                "lock_at_payment": q.deposit.lock_at_payment,
                "edition": q.edition,
                "edition_number": p.edition_number,
                "delivery_store_id": None,
                "paid_at": now,
                "refundable_until": refundable_until,
                "locked_at": now if p.status is OrderStatus.LOCKED else None,
                "ended_at": None,
                "created_at": now,
                "updated_at": now,
                "version": 1,
                "queue_position": p.position,
                "identity_hash": t.identity_hash,
                "intake_key": t.key,
            }
        )
    ids = (
        session.execute(insert(orders).returning(orders.c.id, sort_by_parameter_order=True), order_rows)
        .scalars()
        .all()
    )
    event_rows, payment_rows, notice_rows, entry_rows, outbox_rows = [], [], [], [], []
    for p, oid in zip(stored, ids, strict=True):
        t, q = p.ticket, p.ticket.quote
        actor = f"provider:{provider.name}"
        reason = {
            OrderStatus.RESERVED: "deposit paid at the launch intake",
            OrderStatus.LOCKED: "deposit paid; numbered edition locks at payment",
            OrderStatus.WAITLISTED: f"deposit paid; edition {q.edition} is taken, waiting for a unit",
        }[p.status]
        event_rows.append(
            {
                "order_id": oid,
                "at": now,
                "actor": actor,
                "from_status": None,
                "to_status": str(p.status),
                "reason": reason,
                "data": {
                    "trade_no": p.trade_no,
                    "queue_position": p.position,
                    "total_fen": q.total_fen,
                    "deposit_fen": q.deposit.amount_fen,
                },
            }
        )
        form = provider.signed_notification(
            trade_no=p.trade_no, amount_fen=q.deposit.amount_fen, status=NotificationStatus.SUCCEEDED
        )
        notice = provider.verify_notification(form)
        if notice.amount_fen != q.deposit.amount_fen or notice.status is not NotificationStatus.SUCCEEDED:
            raise RuntimeError("the simulator's notification does not match the deposit")
        payment_rows.append(
            {
                "trade_no": p.trade_no,
                "order_id": oid,
                "purpose": PaymentPurpose.DEPOSIT,
                "provider": provider.name,
                "amount_fen": q.deposit.amount_fen,
                "status": PaymentStatus.SUCCEEDED,
                "provider_txn_id": notice.provider_txn_id,
                "pay_url": "",
                "created_at": now,
                "paid_at": now,
                "closed_at": None,
            }
        )
        notice_rows.append(
            {
                "provider": provider.name,
                "trade_no": p.trade_no,
                "outcome": "captured",
                "detail": "",
                "raw": dict(form),
                "received_at": now,
            }
        )
        entry_rows.append(
            {
                "idempotency_key": f"payment:{p.trade_no}",
                "kind": "payment",
                "order_id": oid,
                "memo": f"deposit via {provider.name} {notice.provider_txn_id}",
                "created_at": now,
            }
        )
        change = events.OrderStatusChanged(
            order_id=oid,
            number=p.number,
            customer_id=t.customer_id,
            from_status=str(OrderStatus.PENDING_PAYMENT),
            to_status=str(p.status),
            actor=actor,
        )
        outbox_rows.append(
            {
                "name": change.name,
                "payload": asdict(change),
                "created_at": now,
                "attempts": 0,
                "last_error": "",
            }
        )
        if p.status is OrderStatus.LOCKED:
            locked = events.OrderLocked(
                order_id=oid, number=p.number, customer_id=t.customer_id, model=q.model, trim=q.trim
            )
            outbox_rows.append(
                {
                    "name": locked.name,
                    "payload": asdict(locked),
                    "created_at": now,
                    "attempts": 0,
                    "last_error": "",
                }
            )
        p.outcome = Outcome(
            201,
            {
                "number": p.number,
                "status": str(p.status),
                "model": q.model,
                "trim": q.trim,
                "queue_position": p.position,
                "edition": q.edition,
                "edition_number": p.edition_number,
                "total_fen": q.total_fen,
                "deposit_fen": q.deposit.amount_fen,
                "trade_no": p.trade_no,
            },
        )
    session.execute(insert(_t(OrderEvent)), event_rows)
    session.execute(insert(_t(Payment)), payment_rows)
    session.execute(insert(_t(NotificationLog)), notice_rows)
    entries = _t(JournalEntry)
    entry_ids = (
        session.execute(insert(entries).returning(entries.c.id, sort_by_parameter_order=True), entry_rows)
        .scalars()
        .all()
    )
    posting_rows = []
    for p, oid, eid in zip(stored, ids, entry_ids, strict=True):
        lines = money_rules.payment_received(oid, p.ticket.quote.deposit.amount_fen)
        if not money_rules.is_balanced(lines):
            raise RuntimeError("a deposit entry does not balance")
        posting_rows += [
            {"entry_id": eid, "account": ln.account, "order_id": ln.order_id, "amount_fen": ln.amount_fen}
            for ln in lines
        ]
    session.execute(insert(_t(Posting)), posting_rows)
    session.execute(insert(_t(OutboxEvent)), outbox_rows)


def _record_answers(session: Session, fresh: list[_Plan]) -> None:
    table = _t(IdempotencyRecord)
    rows = [
        {"rid": p.record_id, "sc": p.outcome.status, "resp": p.outcome.body}
        for p in fresh
        if p.outcome is not None
    ]
    if rows:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("rid"))
            .values(status_code=bindparam("sc"), response=bindparam("resp")),
            rows,
        )

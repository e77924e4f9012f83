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
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.catalog import service as catalog
from carloop.catalog.schemas import ConfigurationIn, Quote
from carloop.db import Base
from carloop.errors import DomainError, InvalidConfiguration
from carloop.ordering import events, rules
from carloop.ordering.intake import pricing, sql
from carloop.ordering.intake import rules as intake_rules
from carloop.ordering.intake.pricing import PricingContext
from carloop.ordering.models import (
    IdempotencyRecord,
    Order,
    OrderEvent,
)
from carloop.ordering.rules import OrderStatus
from carloop.outbox.models import OutboxEvent
from carloop.payments.intake import DepositCapture, capture_deposits
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
    quote_text: str = ""  # the quote as JSON text, rendered once per distinct configuration
    options_json: str = "[]"
    config: ConfigurationIn | None = None  # what was asked, to price again if HQ changed terms since
    context: PricingContext | None = None  # the catalog version and deposit terms it was priced under
    token: str = ""  # a bearer token the group commit resolves (then ``scope``/``customer_id`` are set)


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


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    503: "Service Unavailable",
}


def problem(status: int, code: str, detail: str, **extra: Any) -> Outcome:
    """An RFC 9457 problem answer of the intake route."""
    body = {
        "type": "https://carloop.dev/problems/" + code,
        "title": _TITLES.get(status, "Error"),
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
    conn = session.connection()
    if conn.dialect.name == "sqlite":  # random-key indexes need a cache larger than SQLite's 2 MB default
        conn.exec_driver_sql("PRAGMA cache_size=-131072")
    _authenticate(session, tickets, outcomes, now)
    _price_in_force(session, tickets, outcomes)
    first_of: dict[tuple[str, str], int] = {}
    followers: list[tuple[int, int]] = []
    for i, t in enumerate(tickets):
        if outcomes[i] is not None:
            continue
        j = first_of.setdefault((t.scope, t.key), i)
        if j != i:
            followers.append((i, j))
    plans = {i: _Plan(tickets[i]) for i in first_of.values()}
    _claim_keys(session, plans, outcomes, now)
    fresh = [plans[i] for i in sorted(plans) if outcomes[i] is None]
    stocks = _apply_scalper_limits(session, fresh)
    stored = [p for p in fresh if p.outcome is None]
    _take_positions(session, stored)
    _take_edition_units(session, stored, stocks)
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
    done = [o for o in outcomes if o is not None]
    if len(done) != len(tickets):
        raise RuntimeError("a ticket of the batch has no outcome")
    return done


def _authenticate(
    session: Session, tickets: Sequence[Ticket], outcomes: list[Outcome | None], now: datetime
) -> None:
    """Resolve the batch's bearer tokens in one query, in this transaction: a signed-out token fails now."""
    tokens = {t.token for t in tickets if t.token}
    if not tokens:
        return
    principals = accounts.resolve_sessions(session=session, tokens=tokens, now=now)
    for i, t in enumerate(tickets):
        if not t.token:
            continue
        principal = principals.get(t.token)
        if principal is None or principal.customer_id is None:
            outcomes[i] = problem(401, "authentication-failed", "Sign in first.")
        else:
            t.customer_id, t.scope = principal.customer_id, principal.actor


def _price_in_force(session: Session, tickets: Sequence[Ticket], outcomes: list[Outcome | None]) -> None:
    """Price again, in this transaction, every ticket priced under terms HQ has changed since."""
    context = pricing.load_context(session)
    for i, t in enumerate(tickets):
        if outcomes[i] is not None or t.config is None or t.context is context:
            continue
        try:
            quote, quote_json, quote_text, options_json = pricing.price_cached(t.config, context)
        except InvalidConfiguration as err:
            outcomes[i] = problem(422, str(err.code), err.message, problems=err.problems)
            continue
        except DomainError as err:
            outcomes[i] = problem(422, str(err.code), err.message)
            continue
        t.quote, t.quote_json, t.quote_text, t.options_json = quote, quote_json, quote_text, options_json
        t.context = context


def _mismatch() -> Outcome:
    return problem(
        409, "idempotency-key-reused", "This Idempotency-Key was already used for a different request."
    )


def _claim_keys(
    session: Session, plans: dict[int, _Plan], outcomes: list[Outcome | None], now: datetime
) -> None:
    conn = session.connection()
    table = _t(IdempotencyRecord)
    ordered = sorted(plans.items(), key=lambda item: (item[1].ticket.scope, item[1].ticket.key))
    ids = sql.allocate_ids(conn, table, len(ordered))
    when = sql.db_time(conn, table.c.created_at, now)
    rows = [
        (rid, p.ticket.scope, p.ticket.key, p.ticket.request_hash, 0, "{}", when)
        for rid, (_, p) in zip(ids, ordered, strict=True)
    ]
    # Rows go in key order, so concurrent writers lock the keys in the same order.
    sql.insert_many(
        conn,
        table,
        ("id", "scope", "key", "request_hash", "status_code", "response", "created_at"),
        rows,
        on_conflict_do_nothing=("scope", "key"),
    )
    landed = set(session.scalars(select(table.c.id).where(table.c.id.in_(ids))))
    taken = []
    for rid, (i, p) in zip(ids, ordered, strict=True):
        if rid in landed:
            p.record_id = rid
        else:
            taken.append((i, p))
    if not taken:
        return
    found = {
        (r.scope, r.key): r
        for r in session.execute(
            select(
                table.c.scope, table.c.key, table.c.request_hash, table.c.status_code, table.c.response
            ).where(table.c.key.in_({p.ticket.key for _, p in taken}))
        )
    }
    for i, p in taken:
        rec = found.get((p.ticket.scope, p.ticket.key))
        if rec is None or not rec.status_code:  # cannot happen once committed; the writer retries the batch
            raise RuntimeError("an idempotency key was neither claimed nor answered")
        if rec.request_hash != p.ticket.request_hash:
            outcomes[i] = _mismatch()
        else:
            outcomes[i] = Outcome(int(rec.status_code), dict(rec.response), replayed=True)


def _apply_scalper_limits(session: Session, fresh: list[_Plan]) -> dict[str, tuple[int, int]]:
    """Refuse what the editions' anti-scalper limits forbid; the locked (capacity, taken) by edition."""
    by_edition: dict[str, list[_Plan]] = {}
    for p in fresh:
        edition = p.ticket.quote.edition
        if edition:
            if not p.ticket.identity_hash:
                p.outcome = problem(
                    422,
                    "identity-required",
                    "A limited edition needs the buyer's verified identity number.",
                    field="id_number",
                )
            else:
                by_edition.setdefault(edition, []).append(p)
    stocks = {}
    for edition in sorted(by_edition):
        group = by_edition[edition]
        stocks[edition] = lock_edition_stock(session, edition)  # serialises the edition before counting
        limit = intake_rules.policy_for(policies(), edition).max_orders_per_identity
        identities = [p.ticket.identity_hash or "" for p in group]
        held = held_by_identity(session, edition, identities)
        for p, ok in zip(group, intake_rules.admit_by_identity(identities, held, limit), strict=True):
            if not ok:
                p.outcome = problem(
                    409,
                    "edition-limit-reached",
                    f"One verified identity may hold at most {limit} order(s) of edition {edition}.",
                    edition=edition,
                    limit=limit,
                )
    return stocks


_HELD = (
    select(_t(Order).c.identity_hash, func.count())
    .where(
        _t(Order).c.edition == bindparam("edition"),
        _t(Order).c.identity_hash.in_(bindparam("identities", expanding=True)),
        _t(Order).c.status.not_in([str(OrderStatus.CANCELLED), str(OrderStatus.REFUNDED)]),
    )
    .group_by(_t(Order).c.identity_hash)
)


def held_by_identity(session: Session, edition: str, identities: Sequence[str]) -> dict[str, int]:
    """How many of ``edition``'s orders each identity holds, cancelled and refunded ones aside."""
    rows = session.execute(_HELD, {"edition": edition, "identities": sorted(set(identities))})
    return {str(identity): int(count) for identity, count in rows}


def lock_edition_stock(session: Session, edition: str) -> tuple[int, int]:
    """The edition's (capacity, taken), its row created if missing and locked until the transaction ends."""
    conn = session.connection()
    mark = sql.placeholder(conn)
    conn.exec_driver_sql(
        f"INSERT INTO edition_stock (edition, capacity, taken) VALUES ({mark}, {mark}, 0) "  # noqa: S608
        "ON CONFLICT (edition) DO NOTHING",
        (edition, catalog.edition_units(edition)),
    )
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""  # SQLite: the writer holds the lock
    capacity, taken = conn.exec_driver_sql(
        f"SELECT capacity, taken FROM edition_stock WHERE edition = {mark}{lock}",  # noqa: S608
        (edition,),
    ).one()
    return int(capacity), int(taken)


def _take_positions(session: Session, stored: list[_Plan]) -> None:
    by_model: dict[str, list[_Plan]] = {}
    for p in stored:
        by_model.setdefault(p.ticket.quote.model, []).append(p)
    conn = session.connection()
    mark = sql.placeholder(conn)
    for model in sorted(by_model):
        group = by_model[model]
        conn.exec_driver_sql(
            f"INSERT INTO queue_counters (model, last) VALUES ({mark}, 0) ON CONFLICT (model) DO NOTHING",  # noqa: S608
            (model,),
        )
        last = conn.exec_driver_sql(
            f"UPDATE queue_counters SET last = last + {mark} WHERE model = {mark} RETURNING last",  # noqa: S608
            (len(group), model),
        ).scalar_one()
        for p, position in zip(
            group, intake_rules.positions(int(last) - len(group), len(group)), strict=True
        ):
            p.position = position


def _take_edition_units(session: Session, stored: list[_Plan], stocks: dict[str, tuple[int, int]]) -> None:
    by_edition: dict[str, list[_Plan]] = {}
    for p in stored:
        q = p.ticket.quote
        p.status = rules.status_after_deposit(lock_at_payment=q.deposit.lock_at_payment)
        if q.edition:
            by_edition.setdefault(q.edition, []).append(p)
    conn = session.connection()
    mark = sql.placeholder(conn)
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    for edition in sorted(by_edition):
        group = by_edition[edition]
        capacity, taken = stocks.get(edition) or lock_edition_stock(session, edition)
        returns = [
            int(n)
            for (n,) in conn.exec_driver_sql(
                f"SELECT number FROM edition_returns WHERE edition = {mark}{lock}",  # noqa: S608
                (edition,),
            )
        ]
        grant = intake_rules.grant_units(len(group), capacity=capacity, taken=taken, returns=returns)
        if grant.taken != taken:
            conn.exec_driver_sql(
                f"UPDATE edition_stock SET taken = {mark} WHERE edition = {mark}",  # noqa: S608
                (grant.taken, edition),
            )
        if grant.returns_used:
            conn.exec_driver_sql(
                f"DELETE FROM edition_returns WHERE edition = {mark} AND number = {mark}",  # noqa: S608
                [(edition, n) for n in grant.returns_used],
            )
        for p, number in zip(group, grant.numbers, strict=True):
            p.edition_number = number
            if number is None:
                p.status = OrderStatus.WAITLISTED


def _order_number(model: str) -> str:
    raw = int.from_bytes(secrets.token_bytes(5), "big")  # 40 random bits, 5 per character
    return f"{model.upper()[:6]}-" + "".join(_ALPHABET[(raw >> (5 * k)) & 31] for k in range(8))


def _trade_no() -> str:
    """A payment number that sorts by time (12 hex digits of microseconds) then 8 random hex digits.

    Random numbers scatter every insert over the whole unique index (and the notification and journal
    indexes keyed by it); time-ordered ones append, which keeps each group commit's pages few.
    """
    return f"P{time.time_ns() // 1000:013X}{secrets.token_hex(4).upper()}"


_REASONS = {
    OrderStatus.RESERVED: "deposit paid at the launch intake",
    OrderStatus.LOCKED: "deposit paid; numbered edition locks at payment",
    OrderStatus.WAITLISTED: "deposit paid; the edition is taken, waiting for a unit",
}
_ORDER_COLUMNS = (
    "id", "number", "customer_id", "status", "model", "trim", "options", "catalog_version", "quote",
    "total_fen", "deposit_fen", "refundable_hours", "lock_at_payment", "edition", "edition_number",
    "delivery_store_id", "paid_at", "refundable_until", "locked_at", "ended_at", "created_at", "updated_at",
    "version", "queue_position", "identity_hash", "intake_key",
)  # fmt: skip


def _write(session: Session, stored: list[_Plan], provider: SimulatorProvider, now: datetime) -> None:
    if not stored:
        return
    conn = session.connection()
    orders = _t(Order)
    at = sql.db_time(conn, orders.c.created_at, now)
    waitlist_end = sql.db_time(conn, orders.c.created_at, rules.waitlist_until(now))
    order_ids = sql.allocate_ids(conn, orders, len(stored))
    actor = f"provider:{provider.name}"
    order_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    outbox_rows: list[tuple[Any, ...]] = []
    captures: list[DepositCapture] = []
    windows: dict[int, Any] = {}
    for p, oid in zip(stored, order_ids, strict=True):
        t, q = p.ticket, p.ticket.quote
        deposit = q.deposit.amount_fen
        p.number = _order_number(q.model)
        p.trade_no = _trade_no()
        captures.append(DepositCapture(order_id=oid, trade_no=p.trade_no, amount_fen=deposit))
        if p.status is OrderStatus.RESERVED:
            hours = q.deposit.refundable_hours
            if hours not in windows:
                until = rules.refundable_until(now, refundable_hours=hours, lock_at_payment=False)
                windows[hours] = sql.db_time(conn, orders.c.created_at, until)
            refundable_until = windows[hours]
        else:
            refundable_until = waitlist_end if p.status is OrderStatus.WAITLISTED else None
        status = str(p.status)
        order_rows.append((
            oid, p.number, t.customer_id, status, q.model, q.trim, t.options_json, q.catalog_version,
            t.quote_text, q.total_fen, deposit, q.deposit.refundable_hours, q.deposit.lock_at_payment,
            q.edition, p.edition_number, None, at, refundable_until,
            at if p.status is OrderStatus.LOCKED else None, None, at, at, 1, p.position,
            t.identity_hash, t.key,
        ))  # fmt: skip
        event_data = {"trade_no": p.trade_no, "queue_position": p.position, "deposit_fen": deposit}
        event_rows.append((oid, at, actor, None, status, _REASONS[p.status], sql.dumps(event_data)))
        change = {
            "order_id": oid, "number": p.number, "customer_id": t.customer_id,
            "from_status": str(OrderStatus.PENDING_PAYMENT), "to_status": status, "actor": actor,
        }  # fmt: skip
        outbox_rows.append((events.OrderStatusChanged.name, sql.dumps(change), at, 0, ""))
        if p.status is OrderStatus.LOCKED:
            locked = {
                "order_id": oid,
                "number": p.number,
                "customer_id": t.customer_id,
                "model": q.model,
                "trim": q.trim,
            }
            outbox_rows.append((events.OrderLocked.name, sql.dumps(locked), at, 0, ""))
        p.outcome = Outcome(
            201,
            {
                "number": p.number, "status": status, "model": q.model, "trim": q.trim,
                "queue_position": p.position, "edition": q.edition, "edition_number": p.edition_number,
                "total_fen": q.total_fen, "deposit_fen": deposit, "trade_no": p.trade_no,
            },
        )  # fmt: skip
    sql.insert_many(conn, orders, _ORDER_COLUMNS, order_rows)
    sql.insert_many(
        conn,
        _t(OrderEvent),
        ("order_id", "at", "actor", "from_status", "to_status", "reason", "data"),
        event_rows,
    )
    # The deposits: verified notifications, payments and ledger entries, written by the payments domain.
    capture_deposits(session=session, provider=provider, captures=captures, at=now)
    sql.insert_many(
        conn, _t(OutboxEvent), ("name", "payload", "created_at", "attempts", "last_error"), outbox_rows
    )


def _record_answers(session: Session, fresh: list[_Plan]) -> None:
    conn = session.connection()
    mark = sql.placeholder(conn)
    rows = [
        (p.outcome.status, sql.dumps(p.outcome.body), p.record_id) for p in fresh if p.outcome is not None
    ]
    if rows:
        conn.exec_driver_sql(
            f"UPDATE idempotency_records SET status_code = {mark}, response = {mark} WHERE id = {mark}",  # noqa: S608
            rows,
        )

"""Reserving a car: the one use case, in its batched form (``reserve_many``), and ``reserve`` (one).

Phase one of two. For a batch of requests, in the caller's transaction and a fixed lock order
(idempotency keys sorted, then queue counters by model, then edition stock by edition), it resolves
bearer sessions (a signed-out token fails now), prices each configuration under the catalog version
and deposit terms in force, claims each ``Idempotency-Key`` or finds the order already made for it,
applies the edition's per-identity limit, hands out queue places (gapless, in arrival order, one
UPDATE per model) and edition numbers (returned numbers first, then the next; when none is left the
buyer waits for one), writes the orders as ``pending_payment`` with a payment window (the deposit
policy's ``payment_window_minutes``), and asks the payments domain for one pending deposit payment
each. Phase two is the provider's signed notification (``ordering.deposits.on_deposits_captured``);
an order still unpaid at the end of its window lapses (``ordering.deposits.lapse_unpaid``).

The pages, ``POST /api/v1/orders`` and the launch lane (``web.lanes``) all call ``reserve_many``:
the lane gathers many requests into one call, the others pass one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from carloop import batch_sql as sql
from carloop.accounts import identity as identities
from carloop.accounts import service as accounts
from carloop.campaigns import attribution
from carloop.campaigns import service as campaigns
from carloop.catalog.schemas import ConfigurationIn, Quote
from carloop.clock import utcnow
from carloop.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    ErrorCode,
    InvalidConfiguration,
    PolicyViolation,
)
from carloop.ordering import places, pricing
from carloop.ordering.lifecycle import new_order_number
from carloop.ordering.models import IdempotencyRecord, Order, OrderEvent
from carloop.ordering.pricing import PricingContext
from carloop.ordering.rules import OrderStatus
from carloop.payments import captures
from carloop.payments.models import Payment, PaymentPurpose
from carloop.payments.providers.base import PaymentProvider


@dataclass(slots=True)
class ReservationRequest:
    """One request to reserve: what to order, by whom, under which key.

    The buyer is either known (``customer_id`` and ``scope``, the principal's actor label) or a bearer
    ``token`` that the batch resolves in its own transaction.
    """

    config: ConfigurationIn
    customer_id: int = 0
    scope: str = ""
    token: str = ""
    key: str | None = None  # the Idempotency-Key; None: no replay protection
    identity_hash: str | None = None  # keyed hash of the verified identity number (editions)
    delivery_store_id: int | None = None
    request_hash: str = ""  # what was asked, to tell a retry from a reused key (``fingerprint``)
    priced: tuple[Quote, str, str] | None = None  # (quote, quote JSON, options JSON), priced before the batch
    context: PricingContext | None = None  # the terms it was priced under


@dataclass(frozen=True, slots=True)
class Reservation:
    """A reservation made (or found again for a repeated key): the order and how to pay its deposit."""

    order_id: int
    number: str
    status: OrderStatus
    model: str
    trim: str
    queue_position: int | None
    edition: str | None
    edition_number: int | None
    total_fen: int
    deposit_fen: int
    trade_no: str
    pay_url: str
    pay_by: datetime | None
    replayed: bool = False


@dataclass(slots=True)
class _Plan:
    index: int
    request: ReservationRequest
    quote: Quote
    quote_text: str
    options_json: str
    record_id: int = 0
    number: str = ""  # the order number, chosen when the key is claimed (the claim stores it)
    position: int = 0
    edition_number: int | None = None
    error: DomainError | None = None
    result: Reservation | None = None

    @property
    def identity(self) -> str | None:
        """The keyed hash of the buyer's verified identity, if given."""
        return self.request.identity_hash


def fingerprint(config: ConfigurationIn, id_number: str | None) -> str:
    """What was asked, hashed (canonical JSON, keys sorted), to tell a true retry from a reused key."""
    configuration = {"model": config.model, "options": list(config.options), "trim": config.trim}
    canonical = orjson.dumps(
        {"configuration": configuration, "id_number": id_number}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()


def price(request: ReservationRequest, context: PricingContext | None = None) -> None:
    """Price a request ahead of its batch (the lane does this outside the writer); raises if invalid."""
    context = context or pricing.latest_context()
    quote, _, quote_text, options_json = pricing.price_cached(request.config, context)
    request.priced, request.context = (quote, quote_text, options_json), context


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


def reserve(
    *,
    session: Session,
    provider: PaymentProvider | None,
    customer_id: int,
    config: ConfigurationIn,
    scope: str = "",
    key: str | None = None,
    identity_hash: str | None = None,
    id_number: str | None = None,
    delivery_store_id: int | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Reserve one configuration (``reserve_many`` of one); its error is raised."""
    request = ReservationRequest(
        config=config,
        customer_id=customer_id,
        scope=scope or f"customer:{customer_id}",
        key=key,
        identity_hash=identity_hash,
        delivery_store_id=delivery_store_id,
        request_hash=fingerprint(config, id_number or identity_hash),
    )
    result = reserve_many(session=session, provider=provider, requests=[request], now=now)[0]
    if isinstance(result, DomainError):
        raise result
    return result


def _bind_identities(session: Session, fresh: Sequence[_Plan], now: datetime) -> None:
    """Count the account's bound identity: a given (verified) number binds on first use and must match
    the binding afterwards; an edition request without one uses the account's bound identity (one
    read and at most one insert for the batch: ``identities.check_bindings``)."""
    # only editions count an identity; a request already refused (a campaign's gate) binds nothing
    editions = [p for p in fresh if p.error is None and p.request.customer_id and p.quote.edition]
    answers = identities.check_bindings(
        session=session,
        wanted=[(p.request.customer_id, p.request.identity_hash) for p in editions],
        now=now,
    )
    for p, (identity, refused) in zip(editions, answers, strict=True):
        p.request.identity_hash = identity
        p.error = refused


def reserve_many(
    *,
    session: Session,
    provider: PaymentProvider | None,
    requests: Sequence[ReservationRequest],
    now: datetime | None = None,
) -> list[Reservation | DomainError]:
    """Reserve a batch in the caller's transaction; one reservation or domain error per request, in order.

    With a ``provider`` each order gets its pending deposit payment at once; without one (scripts,
    tests) the payment is started when the buyer goes to pay (``deposits.start_deposit_payment``).
    """
    now = now or utcnow()
    results: list[Reservation | DomainError | None] = [None] * len(requests)
    conn = session.connection()
    if conn.dialect.name == "sqlite":  # random-key indexes need a cache larger than SQLite's 2 MB default
        conn.exec_driver_sql("PRAGMA cache_size=-131072")
    _authenticate(session, requests, results, now)
    plans = _price_in_force(session, requests, results)
    first_of: dict[tuple[str, str], int] = {}
    followers: list[tuple[int, int]] = []
    keyed: list[_Plan] = []
    for plan in plans:
        r = plan.request
        if r.key is None:
            continue
        j = first_of.setdefault((r.scope, r.key), plan.index)
        if j != plan.index:
            followers.append((plan.index, j))
        else:
            keyed.append(plan)
    leaders = [p for p in plans if p.index not in {i for i, _ in followers}]
    _claim_keys(session, keyed, results, now)
    fresh = [p for p in leaders if results[p.index] is None]
    gate = campaigns.reservation_gate(session=session, now=now)  # no orders before a campaign's reveal
    for p in fresh:
        p.error = p.error or gate(p.request.config.model, p.request.config.trim)
    _bind_identities(session, fresh, now)
    stocks = places.apply_identity_limits(session, [p for p in fresh if p.error is None])
    stored = [p for p in fresh if p.error is None]
    places.take_positions(session, stored)
    places.hold_edition_numbers(session, stored, stocks)
    _write(session, provider, stored, now)
    attribution.record_orders(session=session, orders=_new_orders(stored), now=now)
    _record_answers(session, fresh)
    for p in fresh:
        results[p.index] = p.error or p.result
    for i, j in followers:
        first = results[j]
        if requests[i].request_hash != requests[j].request_hash:
            results[i] = _mismatch()
        elif isinstance(first, Reservation):
            results[i] = _replayed(first)
        else:
            results[i] = first
    done = [r for r in results if r is not None]
    if len(done) != len(requests):
        raise RuntimeError("a request of the batch has no result")
    return done


def _new_orders(stored: Sequence[_Plan]) -> list[attribution.NewOrder]:
    """The orders a batch wrote, as the campaigns' attribution needs them."""
    return [
        attribution.NewOrder(
            p.result.order_id, p.result.number, p.request.customer_id, p.result.model, p.result.trim
        )
        for p in stored
        if p.result is not None and p.error is None
    ]


def _replayed(r: Reservation) -> Reservation:
    return Reservation(
        r.order_id, r.number, r.status, r.model, r.trim, r.queue_position, r.edition, r.edition_number,
        r.total_fen, r.deposit_fen, r.trade_no, r.pay_url, r.pay_by, replayed=True,
    )  # fmt: skip


def _authenticate(
    session: Session,
    requests: Sequence[ReservationRequest],
    results: list[Reservation | DomainError | None],
    now: datetime,
) -> None:
    """Resolve the batch's bearer tokens in one query, in this transaction: a signed-out token fails now."""
    tokens = {r.token for r in requests if r.token}
    if not tokens:
        return
    principals = accounts.resolve_sessions(session=session, tokens=tokens, now=now)
    for i, r in enumerate(requests):
        if not r.token:
            continue
        principal = principals.get(r.token)
        if principal is None or principal.customer_id is None:
            results[i] = AuthenticationFailed("Sign in first.")
        else:
            r.customer_id, r.scope = principal.customer_id, principal.actor


def _price_in_force(
    session: Session, requests: Sequence[ReservationRequest], results: list[Reservation | DomainError | None]
) -> list[_Plan]:
    """Price every request under the terms in force in this transaction (reusing a price made under them)."""
    context = pricing.load_context(session)
    plans = []
    for i, r in enumerate(requests):
        if results[i] is not None:
            continue
        if r.priced is None or r.context is not context:
            try:
                price(r, context)
            except DomainError as err:
                results[i] = err
                continue
        assert r.priced is not None
        quote, quote_text, options_json = r.priced
        plans.append(_Plan(i, r, quote, quote_text, options_json))
    return plans


def _mismatch() -> Conflict:
    return Conflict(
        "This Idempotency-Key was already used for a different request.", code=ErrorCode.IDEMPOTENCY_MISMATCH
    )


def _claim_keys(
    session: Session, plans: list[_Plan], results: list[Reservation | DomainError | None], now: datetime
) -> None:
    """Claim each key (rows in key order, so concurrent batches lock keys in one order) or replay it.

    A claim stores its answer at once (the order number the plan will get): the key's row is written
    once, and a plan refused later in the batch gives its key back (``_record_answers``)."""
    if not plans:
        return
    conn = session.connection()
    table = _t(IdempotencyRecord)
    ordered = sorted(plans, key=lambda p: (p.request.scope, p.request.key or ""))
    ids = sql.allocate_ids(conn, table, len(ordered))
    when = sql.db_time(conn, table.c.created_at, now)
    rows = []
    for rid, p in zip(ids, ordered, strict=True):
        p.number = new_order_number(p.quote.model)
        answer = sql.dumps({"number": p.number})
        rows.append((rid, p.request.scope, p.request.key, p.request.request_hash, 201, answer, when))
    sql.insert_many(
        conn,
        table,
        ("id", "scope", "key", "request_hash", "status_code", "response", "created_at"),
        rows,
        on_conflict_do_nothing=("scope", "key"),
    )
    landed = set(session.scalars(select(table.c.id).where(table.c.id.in_(ids))))
    taken = []
    for rid, p in zip(ids, ordered, strict=True):
        if rid in landed:
            p.record_id = rid
        else:
            taken.append(p)
    if not taken:
        return
    found = {
        (r.scope, r.key): r
        for r in session.execute(
            select(table.c.scope, table.c.key, table.c.request_hash, table.c.response).where(
                table.c.key.in_({p.request.key for p in taken})
            )
        )
    }
    numbers: dict[int, str] = {}
    for p in taken:
        rec = found.get((p.request.scope, p.request.key))
        if rec is None:  # cannot happen once committed; the writer retries the batch
            raise RuntimeError("an idempotency key was neither claimed nor answered")
        if rec.request_hash != p.request.request_hash:
            results[p.index] = _mismatch()
            continue
        response = rec.response if isinstance(rec.response, dict) else orjson.loads(rec.response)
        numbers[p.index] = str(response.get("number", ""))
    for index, reservation in found_again(session, numbers).items():
        results[index] = reservation


def found_again(session: Session, numbers: dict[int, str]) -> dict[int, Reservation]:
    """The reservations already made under repeated keys, as they stand now (by result index)."""
    if not numbers:
        return {}
    orders = {
        o.number: o for o in session.scalars(select(Order).where(Order.number.in_(set(numbers.values()))))
    }
    deposits: dict[int, Payment] = {}
    if orders:
        for payment in session.scalars(
            select(Payment)
            .where(
                Payment.order_id.in_([o.id for o in orders.values()]),
                Payment.purpose == PaymentPurpose.DEPOSIT,
            )
            .order_by(Payment.id)
        ):
            deposits.setdefault(int(payment.order_id or 0), payment)
    out = {}
    for index, number in numbers.items():
        order = orders.get(number)
        if order is None:
            raise RuntimeError(f"an idempotency record points at a missing order {number}")
        deposit = deposits.get(order.id)
        out[index] = Reservation(
            order.id, order.number, order.status, order.model, order.trim, order.queue_position,
            order.edition, order.edition_number, order.total_fen, order.deposit_fen,
            deposit.trade_no if deposit else "", deposit.pay_url if deposit else "", order.payment_due_at,
            replayed=True,
        )  # fmt: skip
    return out


_ORDER_COLUMNS = (
    "id", "number", "customer_id", "status", "model", "trim", "options", "catalog_version", "quote",
    "total_fen", "deposit_fen", "refundable_hours", "lock_at_payment", "edition", "edition_number",
    "delivery_store_id", "created_at", "updated_at", "version", "queue_position", "identity_hash",
    "intake_key", "payment_due_at",
)  # fmt: skip
_STARTED = "reservation started; the deposit is due within the payment window"


def _write(session: Session, provider: PaymentProvider | None, stored: list[_Plan], now: datetime) -> None:
    """The orders (pending payment), their first timeline event, and one pending deposit payment each."""
    if not stored:
        return
    conn = session.connection()
    orders = _t(Order)
    at = sql.db_time(conn, orders.c.created_at, now)
    ids = sql.allocate_ids(conn, orders, len(stored))
    pending = str(OrderStatus.PENDING_PAYMENT)
    order_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    requests: list[captures.PaymentRequest] = []
    due_by_window: dict[int, tuple[datetime, Any]] = {}
    for p, oid in zip(stored, ids, strict=True):
        r, q = p.request, p.quote
        window = q.deposit.payment_window_minutes
        if window not in due_by_window:
            due = now + timedelta(minutes=window)
            due_by_window[window] = (due, sql.db_time(conn, orders.c.created_at, due))
        due, due_db = due_by_window[window]
        number = p.number or new_order_number(q.model)
        deposit = q.deposit.amount_fen
        order_rows.append((
            oid, number, r.customer_id, pending, q.model, q.trim, p.options_json, q.catalog_version,
            p.quote_text, q.total_fen, deposit, q.deposit.refundable_hours, q.deposit.lock_at_payment,
            q.edition, p.edition_number, r.delivery_store_id, at, at, 1, p.position,
            r.identity_hash if q.edition else None, r.key, due_db,
        ))  # fmt: skip
        data: dict[str, int | None] = {
            "total_fen": q.total_fen,
            "deposit_fen": deposit,
            "queue_position": p.position,
        }
        if q.edition:
            data["edition_number"] = p.edition_number
        event_rows.append((oid, at, f"customer:{r.customer_id}", None, pending, _STARTED, sql.dumps(data)))
        requests.append(
            captures.PaymentRequest(
                order_id=oid,
                customer_id=r.customer_id,
                purpose=PaymentPurpose.DEPOSIT,
                amount_fen=deposit,
                return_url=f"/orders/{number}",
            )
        )
        p.result = Reservation(
            oid, number, OrderStatus.PENDING_PAYMENT, q.model, q.trim, p.position, q.edition,
            p.edition_number, q.total_fen, deposit, "", "", due,
        )  # fmt: skip
    sql.insert_many(conn, orders, _ORDER_COLUMNS, order_rows)
    sql.insert_many(
        conn,
        _t(OrderEvent),
        ("order_id", "at", "actor", "from_status", "to_status", "reason", "data"),
        event_rows,
    )
    if provider is None:
        return
    started = captures.start_many(session=session, provider=provider, requests=requests, now=now)
    for p, payment in zip(stored, started, strict=True):
        assert p.result is not None
        p.result = Reservation(
            p.result.order_id, p.result.number, p.result.status, p.result.model, p.result.trim,
            p.result.queue_position, p.result.edition, p.result.edition_number, p.result.total_fen,
            p.result.deposit_fen, payment.trade_no, payment.pay_url, p.result.pay_by,
        )  # fmt: skip


def _record_answers(session: Session, fresh: list[_Plan]) -> None:
    """A refused request gives its claimed key back (a stored one keeps the answer its claim wrote)."""
    refused = [p.record_id for p in fresh if p.record_id and p.error is not None]
    if refused:
        session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(refused)))


def configuration_error(err: DomainError) -> bool:
    """Whether a reservation error is about what was asked (so a page shows the form again)."""
    return isinstance(err, InvalidConfiguration | PolicyViolation)

"""Queue places and edition numbers, handed out in batches under the batch's locks (``reserve_many``).

Counters many processes race on live in the database: one conditional UPDATE per model takes a
batch's queue places, and an edition's stock row is locked (PostgreSQL ``FOR UPDATE``; SQLite's
writer holds the write lock) before its per-identity limit is counted and its numbers are given,
returned numbers first (lowest first), then the next unissued ones, in arrival order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session

from carloop import batch_sql as sql
from carloop.catalog import service as catalog
from carloop.catalog.schemas import Quote
from carloop.errors import Conflict, DomainError, ErrorCode, PolicyViolation
from carloop.ordering import editions
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus


class Claim(Protocol):
    """What places are given for: a priced request of one identity (or none), and what it gets."""

    quote: Quote
    position: int
    edition_number: int | None
    error: DomainError | None

    @property
    def identity(self) -> str | None:
        """The keyed hash of the buyer's verified identity (editions), if given."""


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


def apply_identity_limits(session: Session, fresh: Sequence[Claim]) -> dict[str, tuple[int, int]]:
    """Refuse what the editions' per-identity limits forbid; the locked (capacity, taken) by edition."""
    by_edition: dict[str, list[Claim]] = {}
    for p in fresh:
        edition = p.quote.edition
        if not edition:
            continue
        if not p.identity:
            p.error = PolicyViolation(
                "A limited edition needs the buyer's verified identity number.",
                code=ErrorCode.IDENTITY_REQUIRED,
                field="id_number",
            )
        else:
            by_edition.setdefault(edition, []).append(p)
    stocks = {}
    for edition in sorted(by_edition):
        group = by_edition[edition]
        stocks[edition] = lock_edition_stock(session, edition)  # serialises the edition before counting
        limit = editions.policy_for(editions.policies(), edition).max_orders_per_identity
        identities = [p.identity or "" for p in group]
        held = held_by_identity(session, edition, identities)
        for p, ok in zip(group, editions.admit_by_identity(identities, held, limit), strict=True):
            if not ok:
                p.error = Conflict(
                    f"One verified identity may hold at most {limit} order(s) of edition {edition}.",
                    code=ErrorCode.EDITION_LIMIT_REACHED,
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
    """How many of ``edition``'s orders each identity holds (unpaid ones too), ended ones aside."""
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


def take_positions(session: Session, stored: Sequence[Claim]) -> None:
    """Queue places for the batch, per model in arrival order, with one UPDATE of the model's counter."""
    by_model: dict[str, list[Claim]] = {}
    for p in stored:
        by_model.setdefault(p.quote.model, []).append(p)
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
        for p, position in zip(group, editions.positions(int(last) - len(group), len(group)), strict=True):
            p.position = position


def hold_edition_numbers(
    session: Session, stored: Sequence[Claim], stocks: dict[str, tuple[int, int]]
) -> None:
    """Edition numbers held for the batch in arrival order; when none is left the buyer waits for one."""
    by_edition: dict[str, list[Claim]] = {}
    for p in stored:
        if p.quote.edition:
            by_edition.setdefault(p.quote.edition, []).append(p)
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
        grant = editions.grant_units(len(group), capacity=capacity, taken=taken, returns=returns)
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

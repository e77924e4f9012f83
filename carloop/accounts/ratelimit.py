"""Rate limits kept in the database, so every process serving requests sees the same counts.

Two kinds:

- fixed-window counters (``bump``/``hit``): a coarse ceiling per caller address, set high enough that
  a whole carrier-grade NAT of buyers never reaches it;
- back-off per account and device (``guard``/``fail``/``succeed``): wrong attempts on an account make
  *that key* wait, doubling each time past a free allowance, never locking. A device that once
  signed in to the account has its own key, so strangers guessing from elsewhere (all sharing the
  account's "unknown devices" key) never slow down the owner's own phone or browser.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carloop import batch_sql
from carloop.accounts.models import RateCounter, SignInGuard
from carloop.accounts.rules import backoff_seconds, device_digest, retry_after, window_start
from carloop.errors import RateLimited

TOO_MANY = "Too many attempts. Wait a while and try again."


def _upsert(
    session: Session, table: Any, values: dict[str, Any], set_: dict[str, Any], keys: list[Any]
) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_update(index_elements=keys, set_=set_)
    if dialect == "sqlite":
        return sqlite.insert(table).values(values).on_conflict_do_update(index_elements=keys, set_=set_)
    raise NotImplementedError(f"rate counters need an upsert; {dialect} is not supported")


def bump(*, session: Session, key: str, window_seconds: int, now: datetime) -> int:
    """Count one attempt for ``key`` in the current window and return the new count (one statement)."""
    start = window_start(now, window_seconds)
    dialect = session.get_bind().dialect.name
    keys = [RateCounter.key, RateCounter.window_start]
    bumped = {"count": RateCounter.count + 1}
    values = {"key": key, "window_start": start, "count": 1}
    if dialect == "postgresql":
        pg_insert = postgresql.insert(RateCounter).values(values)
        upsert: Any = pg_insert.on_conflict_do_update(index_elements=keys, set_=bumped)
    elif dialect == "sqlite":
        lite_insert = sqlite.insert(RateCounter).values(values)
        upsert = lite_insert.on_conflict_do_update(index_elements=keys, set_=bumped)
    else:
        raise NotImplementedError(f"rate counters need an upsert; {dialect} is not supported")
    statement = upsert.returning(RateCounter.count)
    count: int = session.execute(statement).scalar_one()
    return count


def bump_many(
    *, session: Session, counts: Mapping[str, int], window_seconds: int, now: datetime
) -> dict[str, int]:
    """Count ``counts[key]`` attempts for each key in the current window (one statement for all);
    each key's new count.

    The statement is plain SQL (the same upsert on SQLite and PostgreSQL) with rows as parameters:
    SQLAlchemy would compile a new statement for every count of rows (a bulk SMS sends 200), which
    cost more than the database did."""
    if not counts:
        return {}
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"rate counters need an upsert; {dialect} is not supported")
    conn = session.connection()
    table = cast(Table, RateCounter.__table__)
    start = batch_sql.db_time(conn, table.c.window_start, window_start(now, window_seconds))
    mark = batch_sql.placeholder(conn)
    rows = ", ".join([f"({mark}, {mark}, {mark})"] * len(counts))
    sql = (
        f"INSERT INTO {table.name} (key, window_start, count) VALUES {rows} "  # noqa: S608 - our names
        "ON CONFLICT (key, window_start) DO UPDATE SET count = "
        f"{table.name}.count + excluded.count RETURNING key, count"
    )
    params = tuple(value for key, n in counts.items() for value in (key, start, n))
    return {key: count for key, count in conn.exec_driver_sql(sql, params)}


def hit(*, session: Session, keys: list[str], limit: int, window_seconds: int, now: datetime) -> None:
    """Count one attempt against each key; ``RateLimited`` if any of them is over ``limit``."""
    over = False
    for key in keys:
        over = bump(session=session, key=key, window_seconds=window_seconds, now=now) > limit or over
    if over:
        wait = retry_after(now, window_start(now, window_seconds), window_seconds)
        raise RateLimited(TOO_MANY, retry_after=wait)


def prune(*, session: Session, before: datetime) -> int:
    """Delete counters of windows that started before ``before`` and back-off rows idle since then
    (known devices are kept); returns how many went."""
    result = session.execute(delete(RateCounter).where(RateCounter.window_start < before))
    idle = session.execute(
        delete(SignInGuard).where(SignInGuard.last_at < before, SignInGuard.known.is_(False))
    )
    return int(getattr(result, "rowcount", 0) or 0) + int(getattr(idle, "rowcount", 0) or 0)


# --- back-off per account and device ---------------------------------------------------------


def scope_key(*, session: Session, kind: str, account: str, device: str | None) -> str:
    """The back-off key for ``account`` seen from ``device``: its own if the device signed in to this
    account before, else the key all unknown devices of the account share."""
    if device:
        known_key = f"known:{kind}:{account}:{device_digest(device)}"
        if session.scalar(select(SignInGuard.known).where(SignInGuard.key == known_key)):
            return f"{kind}:{account}:device:{device_digest(device)}"
    return f"{kind}:{account}:unknown"


def guard(*, session: Session, key: str, now: datetime) -> None:
    """``RateLimited`` (with the seconds to wait) while ``key`` is backing off."""
    until = session.scalar(select(SignInGuard.blocked_until).where(SignInGuard.key == key))
    if until is not None and until > now:
        raise RateLimited(TOO_MANY, retry_after=max(1, math.ceil((until - now).total_seconds())))


def fail(*, session: Session, key: str, now: datetime, free: int, base_seconds: int, cap_seconds: int) -> int:
    """Count one attempt against ``key`` (one statement) and start its back-off; returns the wait.

    Failures older than ``cap_seconds`` are forgotten first, so a slow trickle never adds up.
    """
    quiet_since = now - timedelta(seconds=cap_seconds)
    failures = case((SignInGuard.last_at < quiet_since, 1), else_=SignInGuard.failures + 1)
    statement = _upsert(
        session,
        SignInGuard,
        {"key": key, "failures": 1, "last_at": now, "known": False},
        {"failures": failures, "last_at": now},
        [SignInGuard.key],
    ).returning(SignInGuard.failures)
    count: int = session.execute(statement).scalar_one()
    wait = backoff_seconds(count, free=free, base_seconds=base_seconds, cap_seconds=cap_seconds)
    if wait:
        session.execute(
            update(SignInGuard)
            .where(SignInGuard.key == key)
            .values(blocked_until=now + timedelta(seconds=wait))
        )
    return wait


def succeed(
    *, session: Session, kind: str, account: str, key: str, device: str | None, now: datetime
) -> None:
    """A sign-in succeeded: clear ``key``'s back-off and remember ``device`` as known to the account."""
    session.execute(update(SignInGuard).where(SignInGuard.key == key).values(failures=0, blocked_until=None))
    if device:
        known_key = f"known:{kind}:{account}:{device_digest(device)}"
        session.execute(
            _upsert(
                session,
                SignInGuard,
                {"key": known_key, "failures": 0, "last_at": now, "known": True},
                {"known": True, "last_at": now},
                [SignInGuard.key],
            )
        )

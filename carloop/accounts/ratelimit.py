"""Rate limits kept in the database, so every process serving requests sees the same counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carloop.accounts.models import RateCounter
from carloop.accounts.rules import retry_after, window_start
from carloop.errors import RateLimited


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


def hit(*, session: Session, keys: list[str], limit: int, window_seconds: int, now: datetime) -> None:
    """Count one attempt against each key; ``RateLimited`` if any of them is over ``limit``."""
    over = False
    for key in keys:
        over = bump(session=session, key=key, window_seconds=window_seconds, now=now) > limit or over
    if over:
        wait = retry_after(now, window_start(now, window_seconds), window_seconds)
        raise RateLimited("Too many attempts. Wait a while and try again.", retry_after=wait)


def prune(*, session: Session, before: datetime) -> int:
    """Delete counters of windows that started before ``before``; returns how many went."""
    result = session.execute(delete(RateCounter).where(RateCounter.window_start < before))
    return int(getattr(result, "rowcount", 0) or 0)

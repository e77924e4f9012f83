"""``Idempotency-Key`` handling: a retry gets the first answer, never a second effect."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carloop.errors import Conflict, ErrorCode
from carloop.ordering.models import IdempotencyRecord

MAX_KEY_LENGTH = 200


def fingerprint(method: str, path: str, body: Any) -> str:
    """A stable hash of what was asked, to tell a true retry from a reused key."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_once(
    *,
    session: Session,
    scope: str,
    key: str | None,
    request_hash: str,
    produce: Callable[[], tuple[int, dict[str, Any]]],
) -> tuple[int, dict[str, Any], bool]:
    """Run ``produce`` once per (scope, key); returns (status, body, replayed)."""
    if not key:
        status, body = produce()
        return status, body, False
    if len(key) > MAX_KEY_LENGTH:
        raise Conflict(
            f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters.", code=ErrorCode.CONFLICT
        )
    stored = _find(session, scope, key)
    if stored is None:
        record = IdempotencyRecord(scope=scope, key=key, request_hash=request_hash)
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
        except IntegrityError:
            # A concurrent request with the same key committed first (PostgreSQL waited for it).
            stored = _find(session, scope, key)
            if stored is None:
                raise
        else:
            status, body = produce()
            record.status_code, record.response = status, body
            session.flush()
            return status, body, False
    if stored.request_hash != request_hash:
        raise Conflict(
            "This Idempotency-Key was already used for a different request.",
            code=ErrorCode.IDEMPOTENCY_MISMATCH,
        )
    return stored.status_code, dict(stored.response), True


def _find(session: Session, scope: str, key: str) -> IdempotencyRecord | None:
    return session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    )

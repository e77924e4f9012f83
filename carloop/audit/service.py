"""Audit use cases: record a staff action and read the log back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.audit.models import AuditEntry

SYSTEM_ACTOR = "system"  # the CLI, seeding and background jobs


class Actor(Protocol):
    """Who acted, as the log records it (``accounts.schemas.Principal`` is one; audit imports no domain)."""

    @property
    def actor(self) -> str: ...
    @property
    def role(self) -> object: ...
    @property
    def store_id(self) -> int | None: ...


def record(
    *,
    session: Session,
    principal: Actor | None,
    action: str,
    target_type: str,
    target_id: int | str,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Append one audit row in the caller's transaction (``principal=None`` means the system)."""
    entry = AuditEntry(
        actor=principal.actor if principal is not None else SYSTEM_ACTOR,
        role=str(principal.role) if principal is not None else SYSTEM_ACTOR,
        store_id=principal.store_id if principal is not None else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        detail=dict(detail or {}),
        ip=ip,
    )
    session.add(entry)
    session.flush()
    return entry


def list_entries(
    *,
    session: Session,
    target_type: str | None = None,
    target_id: int | str | None = None,
    actor: str | None = None,
    action: str | None = None,
    store_id: int | None = None,
    before_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Audit rows, newest first, filtered by any of the given fields (page with ``before_id``).

    ``since`` is inclusive and ``until`` exclusive, both aware datetimes.
    """
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 1000)))
    if target_type is not None:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEntry.target_id == str(target_id))
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if store_id is not None:
        query = query.where(AuditEntry.store_id == store_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    return list(session.scalars(query))


def target_types(*, session: Session) -> list[str]:
    """Every kind of target the log mentions, for the viewer's filter."""
    return sorted(session.scalars(select(AuditEntry.target_type).distinct()))

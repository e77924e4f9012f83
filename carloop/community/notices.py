"""Owner notices: one per happening per owner, read in the app's inbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.clock import utcnow
from carloop.community.models import Notice, NoticeKind, Suggestion


def notify(
    session: Session,
    customer_ids: Iterable[int],
    kind: NoticeKind,
    suggestion: Suggestion,
    step: int,
    **data: object,
) -> int:
    """Send a notice to each owner once (the key makes a repeat a no-op); returns how many were new."""
    sent = 0
    for customer_id in sorted(set(customer_ids)):
        key = f"{kind}:{suggestion.id}:{step}:{customer_id}"
        if session.scalar(select(Notice.id).where(Notice.key == key)) is None:
            session.add(
                Notice(
                    customer_id=customer_id, kind=kind, suggestion_id=suggestion.id, key=key, data=dict(data)
                )
            )
            sent += 1
    return sent


def notices(*, session: Session, customer_id: int, limit: int = 50) -> list[Notice]:
    """An owner's notices, newest first."""
    query = select(Notice).where(Notice.customer_id == customer_id).order_by(Notice.id.desc()).limit(limit)
    return list(session.scalars(query))


def mark_read(*, session: Session, customer_id: int, now: datetime | None = None) -> None:
    """Mark every notice of an owner read."""
    for notice in session.scalars(
        select(Notice).where(Notice.customer_id == customer_id, Notice.read_at.is_(None))
    ):
        notice.read_at = now or utcnow()
    session.flush()

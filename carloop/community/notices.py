"""Owner notices: one per happening per owner, read in the app's inbox."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.accounts.models import Customer
from carloop.clock import utcnow
from carloop.community.models import ForumComment, ForumPost, Notice, NoticeKind, Suggestion

MENTION = re.compile(r"(?<![\w@])@([\w\u4e00-\u9fff]{1,30})")
MAX_MENTIONS = 10  # more @names than this in one text notify nobody beyond the first ten (anti-spam)


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


def mentioned_names(text: str) -> list[str]:
    """The distinct @names in a text, in order, at most ``MAX_MENTIONS``."""
    names: list[str] = []
    for name in MENTION.findall(text):
        if name.lower() not in (n.lower() for n in names):
            names.append(name)
    return names[:MAX_MENTIONS]


def _resolve(session: Session, name: str, participants: set[int]) -> int | None:
    """The owner an @name means: the only owner of that display name, or the only one in the thread."""
    ids = list(
        session.scalars(
            select(Customer.id).where(func.lower(Customer.display_name) == name.lower()).limit(20)
        )
    )
    if len(ids) == 1:
        return ids[0]
    in_thread = [i for i in ids if i in participants]
    return in_thread[0] if len(in_thread) == 1 else None


def notify_mentions(
    *,
    session: Session,
    post: ForumPost,
    text: str,
    author_id: int | None,
    comment: ForumComment | None = None,
) -> list[int]:
    """Tell every owner @mentioned in a post or comment (once per text, never the author); returns who."""
    names = mentioned_names(text)
    if not names:
        return []
    participants = {post.author_id} | {
        c for c in session.scalars(select(ForumComment.author_id).where(ForumComment.post_id == post.id)) if c
    }
    told: list[int] = []
    for name in names:
        customer_id = _resolve(session, name, participants)
        if customer_id is None or customer_id == author_id or customer_id in told:
            continue
        key = f"{NoticeKind.MENTIONED}:{post.id}:{comment.id if comment else 0}:{customer_id}"
        if session.scalar(select(Notice.id).where(Notice.key == key)) is None:
            session.add(
                Notice(
                    customer_id=customer_id,
                    kind=NoticeKind.MENTIONED,
                    post_id=post.id,
                    key=key,
                    data={"title": post.title, "by": author_id, "comment": comment.id if comment else None},
                )
            )
            told.append(customer_id)
    session.flush()
    return told

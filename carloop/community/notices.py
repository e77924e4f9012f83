"""Community notices, left in the one notices inbox (``carloop.notices``): a followed suggestion moved,
"did this solve it?", a merge, an @mention. Each once per happening per owner, in both languages, with
a link to the suggestion or post; in-app (and e-mail when the owner gave an address), never by SMS."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.accounts.models import Customer
from carloop.community import rules
from carloop.community.models import ForumComment, ForumPost, Suggestion
from carloop.community.rules import NoticeKind, NoticeText
from carloop.notices import service as notices
from carloop.notices.models import Notice

SOURCE = "community"  # the notices' source in the one inbox
MENTION = re.compile(r"(?<![\w@])@([\w\u4e00-\u9fff]{1,30})")
MAX_MENTIONS = 10  # more @names than this in one text notify nobody beyond the first ten (anti-spam)


def notify(
    session: Session,
    customer_ids: Iterable[int],
    kind: NoticeKind,
    suggestion: Suggestion,
    step: int,
    text: NoticeText,
) -> None:
    """Leave a notice about ``suggestion`` with each owner, once per ``step`` (a repeat is a no-op)."""
    for customer_id in sorted(set(customer_ids)):
        _leave(
            session,
            customer_id,
            kind,
            f"{SOURCE}:{kind}:{suggestion.id}:{step}:{customer_id}",
            text,
            f"/community/suggestions/{suggestion.id}",
        )


def _leave(
    session: Session, customer_id: int, kind: NoticeKind, key: str, text: NoticeText, link: str
) -> Notice:
    return notices.notify(
        session=session,
        customer_id=customer_id,
        kind=str(kind),
        key=key,
        source=SOURCE,
        subject=text.subject,
        body=text.body,
        link=link,
    )


def notices_of(*, session: Session, customer_id: int, limit: int = 50) -> list[Notice]:
    """An owner's community notices, newest first."""
    return notices.inbox(session=session, customer_id=customer_id, source=SOURCE, limit=limit)


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
        key = f"{SOURCE}:{NoticeKind.MENTIONED}:{post.id}:{comment.id if comment else 0}:{customer_id}"
        words = rules.mention_notice(post.title, in_comment=comment is not None)
        _leave(session, customer_id, NoticeKind.MENTIONED, key, words, f"/community/forum/posts/{post.id}")
        told.append(customer_id)
    return told

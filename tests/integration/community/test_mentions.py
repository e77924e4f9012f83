"""@mentions in forum posts and comments: who is meant, once per text, never the author, never ambiguous."""

from __future__ import annotations

from datetime import timedelta

from builders.accounts import owner
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carloop.accounts.models import Customer
from carloop.clock import utcnow
from carloop.community import forum, notices
from carloop.community.rules import Board, NoticeKind
from carloop.notices.models import Notice


def _named(session: Session, phone: str, name: str) -> int:
    cid = owner(session, phone)
    session.execute(
        update(Customer)
        .where(Customer.id == cid)
        .values(display_name=name, created_at=utcnow() - timedelta(days=30))
    )
    return cid


def _mentioned(session: Session) -> list[tuple[int, int | None]]:
    """(owner, post) of each mention notice, in the one notices inbox."""
    rows = session.execute(
        select(Notice.customer_id, Notice.link)
        .where(Notice.kind == NoticeKind.MENTIONED, Notice.source == "community")
        .order_by(Notice.id)
    )
    return [(int(c), int(link.removeprefix("/community/forum/posts/"))) for c, link in rows]


def test_mentions_notify_the_named_owner_once_and_never_the_author(session: Session) -> None:
    ann, ben = _named(session, "13800138000", "Ann"), _named(session, "13800138001", "Ben")
    post = forum.create_post(
        session=session,
        author_id=ann,
        board=Board.TIPS,
        title="Tyre tips",
        body="@ben @Ben @Ann email@example",
    )
    assert _mentioned(session) == [(ben, post.id)]
    forum.comment(session=session, post=post, body="thanks @Ann", author_id=ben)
    forum.comment(session=session, post=post, body="and again @Ann", author_id=ben)
    assert [c for c, _ in _mentioned(session)] == [ben, ann, ann]  # one per text


def test_an_ambiguous_name_means_the_one_in_the_thread_or_nobody(session: Session) -> None:
    li_a, li_b = _named(session, "13800138000", "Li"), _named(session, "13800138001", "Li")
    zed = _named(session, "13800138002", "Zed")
    post = forum.create_post(session=session, author_id=zed, board=Board.QA, title="Who knows?", body="@Li")
    assert _mentioned(session) == []  # two owners are called Li and neither is in the thread
    forum.comment(session=session, post=post, body="I do", author_id=li_b)
    forum.comment(session=session, post=post, body="ask @Li", author_id=zed)
    assert [c for c, _ in _mentioned(session)] == [li_b]
    assert li_a not in [c for c, _ in _mentioned(session)]


def test_at_most_ten_names_count_per_text() -> None:
    text = " ".join(f"@owner{i}" for i in range(15)) + " @owner1"
    names = notices.mentioned_names(text)
    assert len(names) == notices.MAX_MENTIONS and names[0] == "owner0"

"""The forum: spam limits for new accounts, likes, helpful points, official answers, reports and bans."""

from __future__ import annotations

from datetime import timedelta

import pytest
from builders.accounts import owner
from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.audit import service as audit
from carloop.clock import utcnow
from carloop.community import forum
from carloop.community.models import ReportStatus
from carloop.community.rules import Board
from carloop.errors import Conflict, NotFound, PermissionDenied, RateLimited
from carloop.loyalty import service as loyalty
from carloop.loyalty.rules import EARN_RULES, EarnReason

from .conftest import STAFF


def _veteran(session: Session, phone: str) -> int:
    cid = owner(session, phone)
    accounts.get_customer(session=session, customer_id=cid).created_at = utcnow() - timedelta(days=30)
    return cid


def test_a_new_account_posts_once_a_day_and_anyone_five_times_an_hour(session: Session) -> None:
    newcomer, veteran = owner(session, "13800138000"), _veteran(session, "13800138001")
    forum.create_post(
        session=session, author_id=newcomer, board=Board.STORIES, title="My first drive", body=""
    )
    with pytest.raises(RateLimited):
        forum.create_post(
            session=session, author_id=newcomer, board=Board.STORIES, title="Second post", body=""
        )
    for i in range(5):
        forum.create_post(
            session=session, author_id=veteran, board=Board.TIPS, title=f"Tip number {i}", body=""
        )
    with pytest.raises(RateLimited):
        forum.create_post(session=session, author_id=veteran, board=Board.TIPS, title="Tip number 6", body="")
    later = utcnow() + timedelta(hours=2)
    forum.create_post(
        session=session, author_id=veteran, board=Board.TIPS, title="Tip later", body="", now=later
    )


def test_likes_count_once_and_never_your_own(session: Session) -> None:
    a, b = _veteran(session, "13800138000"), _veteran(session, "13800138001")
    post = forum.create_post(session=session, author_id=a, board=Board.STORIES, title="Road trip", body="")
    assert forum.like(session=session, post=post, customer_id=a) == 0
    forum.like(session=session, post=post, customer_id=b)
    assert forum.like(session=session, post=post, customer_id=b) == 1


def test_a_helpful_post_earns_points_once(session: Session) -> None:
    a = _veteran(session, "13800138000")
    post = forum.create_post(
        session=session, author_id=a, board=Board.TIPS, title="Winter range tips", body=""
    )
    forum.mark_helpful(session=session, principal=STAFF, post=post)
    forum.mark_helpful(session=session, principal=STAFF, post=post)
    assert loyalty.balance(session=session, customer_id=a) == EARN_RULES[EarnReason.HELPFUL_POST].points


def test_only_a_staff_comment_on_a_question_becomes_the_official_answer(session: Session) -> None:
    a = _veteran(session, "13800138000")
    question = forum.create_post(
        session=session, author_id=a, board=Board.QA, title="How do I pair a key?", body=""
    )
    own = forum.comment(session=session, post=question, body="Me too", author_id=a)
    with pytest.raises(Conflict):
        forum.mark_official_answer(session=session, principal=STAFF, post=question, answer=own)
    answer = forum.comment(session=session, post=question, body="Settings > Keys", staff=STAFF)
    forum.mark_official_answer(session=session, principal=STAFF, post=question, answer=answer)
    assert question.official_answer_id == answer.id


def test_reports_queue_hide_the_content_and_bans_stop_posting(session: Session) -> None:
    spammer, a, b = (_veteran(session, f"1380013800{i}") for i in range(3))
    post = forum.create_post(
        session=session, author_id=spammer, board=Board.STORIES, title="Cheap parts here", body=""
    )
    forum.report(session=session, reporter_id=a, target_type="post", target_id=post.id, reason="spam")
    forum.report(session=session, reporter_id=a, target_type="post", target_id=post.id, reason="spam")
    forum.report(session=session, reporter_id=b, target_type="post", target_id=post.id, reason="advert")
    [first, _] = forum.queue(session=session)
    forum.resolve_report(session=session, principal=STAFF, report_id=first.id, hide=True)
    assert forum.queue(session=session) == []
    assert post.hidden and first.status is ReportStatus.ACTIONED
    with pytest.raises(NotFound):
        forum.get_post(session=session, post_id=post.id)
    assert forum.board_posts(session=session, board=Board.STORIES) == []
    forum.ban(session=session, principal=STAFF, customer_id=spammer, days=7, reason="spam")
    with pytest.raises(PermissionDenied):
        forum.create_post(
            session=session, author_id=spammer, board=Board.STORIES, title="Again here", body=""
        )
    assert {e.action for e in audit.list_entries(session=session)} >= {"forum.hide", "forum.ban"}

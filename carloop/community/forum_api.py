"""Forum API: boards, posts, comments, likes, reports; staff answers, helpful marks, the queue and bans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.community import forum
from carloop.community.models import ForumComment, ForumPost, PostLike
from carloop.community.rules import Board
from carloop.community.schemas import (
    BanCreate,
    CommentCreate,
    CommentRead,
    OfficialAnswer,
    PostCreate,
    PostRead,
    ReportCreate,
    ReportDecision,
    ReportRead,
)
from carloop.errors import NotFound
from carloop.web.deps import CurrentCustomer, CurrentPrincipal, DbSession, require_roles

router = APIRouter(tags=["forum"])
Moderator = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]


def _customer(principal: Principal) -> int:
    assert principal.customer_id is not None  # require_customer guarantees it
    return principal.customer_id


def post_read(session: Session, post: ForumPost, *, with_comments: bool = False) -> PostRead:
    """The API shape of a post."""
    likes = session.scalar(select(func.count(PostLike.id)).where(PostLike.post_id == post.id)) or 0
    comments = forum.comments(session=session, post_id=post.id) if with_comments else []
    return PostRead(
        id=post.id,
        board=post.board,
        author_id=post.author_id,
        title=post.title,
        body=post.body,
        likes=int(likes),
        helpful=post.helpful,
        official_answer_id=post.official_answer_id,
        created_at=post.created_at,
        comments=[_comment_read(c) for c in comments],
    )


def _comment_read(c: ForumComment) -> CommentRead:
    return CommentRead(
        id=c.id, author_id=c.author_id, staff=c.staff_id is not None, body=c.body, created_at=c.created_at
    )


@router.get("/forum/boards/{board}")
def board_posts(session: DbSession, _: CurrentPrincipal, board: Board) -> list[PostRead]:
    """Visible posts on a board, newest first."""
    return [post_read(session, p) for p in forum.board_posts(session=session, board=board)]


@router.post("/forum/posts", status_code=201)
def create_post(session: DbSession, me: CurrentCustomer, body: PostCreate) -> PostRead:
    """Post on a board (rate-limited; new accounts post at most once a day)."""
    post = forum.create_post(
        session=session, author_id=_customer(me), board=body.board, title=body.title, body=body.body
    )
    return post_read(session, post)


@router.get("/forum/posts/{post_id}")
def read_post(session: DbSession, _: CurrentPrincipal, post_id: int) -> PostRead:
    """A post with its comments."""
    return post_read(session, forum.get_post(session=session, post_id=post_id), with_comments=True)


@router.post("/forum/posts/{post_id}/comments", status_code=201)
def comment(session: DbSession, me: CurrentCustomer, post_id: int, body: CommentCreate) -> CommentRead:
    """Comment on a post."""
    post = forum.get_post(session=session, post_id=post_id)
    return _comment_read(forum.comment(session=session, post=post, body=body.body, author_id=_customer(me)))


@router.post("/forum/posts/{post_id}/likes")
def like(session: DbSession, me: CurrentCustomer, post_id: int) -> PostRead:
    """Like a post (once; your own posts cannot be liked by you)."""
    post = forum.get_post(session=session, post_id=post_id)
    forum.like(session=session, post=post, customer_id=_customer(me))
    return post_read(session, post)


@router.post("/forum/reports", status_code=201)
def report(session: DbSession, me: CurrentCustomer, body: ReportCreate) -> ReportRead:
    """Report a post or comment to the moderators."""
    row = forum.report(
        session=session,
        reporter_id=_customer(me),
        target_type=body.target_type,
        target_id=body.target_id,
        reason=body.reason,
    )
    return ReportRead(
        id=row.id,
        target_type=row.target_type,
        target_id=row.target_id,
        reason=row.reason,
        status=str(row.status),
        created_at=row.created_at,
    )


@router.get("/staff/forum/reports")
def moderation_queue(session: DbSession, staff: Moderator) -> list[ReportRead]:
    """Open reports, oldest first."""
    return [
        ReportRead(
            id=r.id,
            target_type=r.target_type,
            target_id=r.target_id,
            reason=r.reason,
            status=str(r.status),
            created_at=r.created_at,
        )
        for r in forum.queue(session=session)
    ]


@router.post("/staff/forum/reports/{report_id}")
def decide_report(session: DbSession, staff: Moderator, report_id: int, body: ReportDecision) -> ReportRead:
    """Hide the reported content or dismiss the report (audited)."""
    r = forum.resolve_report(session=session, principal=staff, report_id=report_id, hide=body.hide)
    return ReportRead(
        id=r.id,
        target_type=r.target_type,
        target_id=r.target_id,
        reason=r.reason,
        status=str(r.status),
        created_at=r.created_at,
    )


@router.post("/staff/forum/posts/{post_id}/comments", status_code=201)
def staff_comment(session: DbSession, staff: Moderator, post_id: int, body: CommentCreate) -> CommentRead:
    """Answer on a post as staff."""
    post = forum.get_post(session=session, post_id=post_id)
    return _comment_read(forum.comment(session=session, post=post, body=body.body, staff=staff))


@router.post("/staff/forum/posts/{post_id}/official-answer")
def official_answer(session: DbSession, staff: Moderator, post_id: int, body: OfficialAnswer) -> PostRead:
    """Mark a staff comment as the question's official answer (audited)."""
    post = forum.get_post(session=session, post_id=post_id)
    answer = session.get(ForumComment, body.comment_id)
    if answer is None:
        raise NotFound(f"No comment {body.comment_id}.")
    forum.mark_official_answer(session=session, principal=staff, post=post, answer=answer)
    return post_read(session, post, with_comments=True)


@router.post("/staff/forum/posts/{post_id}/helpful")
def helpful(session: DbSession, staff: Moderator, post_id: int) -> PostRead:
    """Mark a post helpful; its author earns points (audited)."""
    post = forum.get_post(session=session, post_id=post_id)
    forum.mark_helpful(session=session, principal=staff, post=post)
    return post_read(session, post)


@router.post("/staff/forum/bans", status_code=201)
def ban(session: DbSession, staff: Moderator, body: BanCreate) -> dict[str, object]:
    """Bar an owner from posting and commenting (audited)."""
    row = forum.ban(
        session=session, principal=staff, customer_id=body.customer_id, days=body.days, reason=body.reason
    )
    return {"customer_id": row.customer_id, "until": row.until.isoformat(), "reason": row.reason}

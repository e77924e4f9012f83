"""Forum use cases: posts and comments under spam limits, likes, helpful posts, answers, moderation."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Principal
from carloop.audit import service as audit
from carloop.clock import as_utc, utcnow
from carloop.community import notices, rules
from carloop.community.models import ForumBan, ForumComment, ForumPost, ForumReport, PostLike, ReportStatus
from carloop.community.rules import Board
from carloop.errors import Conflict, NotFound, PermissionDenied, PolicyViolation, RateLimited
from carloop.loyalty import service as loyalty
from carloop.loyalty.rules import EarnReason


def _check_not_banned(session: Session, customer_id: int, now: datetime) -> None:
    ban = session.scalar(select(ForumBan).where(ForumBan.customer_id == customer_id))
    if ban is not None and as_utc(ban.until) > now:
        raise PermissionDenied(f"You cannot post until {ban.until:%Y-%m-%d %H:%M} UTC: {ban.reason}")


def _count_posts(session: Session, customer_id: int, since: datetime) -> int:
    query = select(func.count(ForumPost.id)).where(
        ForumPost.author_id == customer_id, ForumPost.created_at >= since
    )
    return int(session.scalar(query) or 0)


def create_post(
    *, session: Session, author_id: int, board: Board, title: str, body: str, now: datetime | None = None
) -> ForumPost:
    """Post on a board, unless banned or over the spam limits (new accounts are held tighter)."""
    now = now or utcnow()
    _check_not_banned(session, author_id, now)
    customer = accounts.get_customer(session=session, customer_id=author_id)
    age_days = (now - as_utc(customer.created_at)).total_seconds() / 86400
    if not rules.may_post(
        account_age_days=age_days,
        posts_last_hour=_count_posts(session, author_id, now - timedelta(hours=1)),
        posts_last_day=_count_posts(session, author_id, now - timedelta(days=1)),
    ):
        raise RateLimited("You are posting too often; try again later.", retry_after=3600)
    if len(title.strip()) < 4:
        raise PolicyViolation("Give the post a title of at least 4 characters.")
    post = ForumPost(
        board=board, author_id=author_id, title=title.strip()[:200], body=body.strip(), created_at=now
    )
    session.add(post)
    session.flush()
    notices.notify_mentions(
        session=session, post=post, text=f"{post.title}\n{post.body}", author_id=author_id
    )
    return post


def get_post(*, session: Session, post_id: int, include_hidden: bool = False) -> ForumPost:
    """A post by id (hidden ones only for moderators)."""
    post = session.get(ForumPost, post_id)
    if post is None or (post.hidden and not include_hidden):
        raise NotFound(f"No post {post_id}.")
    return post


def comment(
    *,
    session: Session,
    post: ForumPost,
    body: str,
    author_id: int | None = None,
    staff: Principal | None = None,
    now: datetime | None = None,
) -> ForumComment:
    """Comment on a post as an owner (within limits) or as staff."""
    now = now or utcnow()
    if not body.strip():
        raise PolicyViolation("Write something first.")
    if author_id is not None:
        _check_not_banned(session, author_id, now)
        recent = session.scalar(
            select(func.count(ForumComment.id)).where(
                ForumComment.author_id == author_id, ForumComment.created_at >= now - timedelta(hours=1)
            )
        )
        if int(recent or 0) >= rules.COMMENTS_PER_HOUR:
            raise RateLimited("You are commenting too often; try again later.", retry_after=3600)
    row = ForumComment(
        post_id=post.id,
        author_id=author_id,
        staff_id=staff.staff_id if staff is not None else None,
        body=body.strip(),
        created_at=now,
    )
    session.add(row)
    session.flush()
    notices.notify_mentions(session=session, post=post, text=row.body, author_id=author_id, comment=row)
    return row


def like(*, session: Session, post: ForumPost, customer_id: int) -> int:
    """Like a post once (liking your own post does nothing); returns its like count."""
    if post.author_id != customer_id:
        exists = session.scalar(
            select(PostLike.id).where(PostLike.post_id == post.id, PostLike.customer_id == customer_id)
        )
        if exists is None:
            session.add(PostLike(post_id=post.id, customer_id=customer_id))
            session.flush()
    return int(session.scalar(select(func.count(PostLike.id)).where(PostLike.post_id == post.id)) or 0)


def mark_helpful(*, session: Session, principal: Principal, post: ForumPost) -> ForumPost:
    """Staff mark a post helpful: its author earns the helpful-post points (once, within caps)."""
    if not post.helpful:
        post.helpful = True
        loyalty.award_points(
            session=session, customer_id=post.author_id, reason=EarnReason.HELPFUL_POST, key=str(post.id)
        )
        audit.record(
            session=session,
            principal=principal,
            action="forum.helpful",
            target_type="post",
            target_id=post.id,
        )
        session.flush()
    return post


def mark_official_answer(
    *, session: Session, principal: Principal, post: ForumPost, answer: ForumComment
) -> ForumPost:
    """Staff mark one staff comment on a Q&A post as the official answer."""
    if post.board is not Board.QA:
        raise PolicyViolation("Only questions have an official answer.")
    if answer.post_id != post.id or answer.staff_id is None:
        raise Conflict("The official answer is a staff comment on this question.")
    post.official_answer_id = answer.id
    audit.record(
        session=session,
        principal=principal,
        action="forum.official_answer",
        target_type="post",
        target_id=post.id,
    )
    session.flush()
    return post


def report(
    *, session: Session, reporter_id: int, target_type: str, target_id: int, reason: str
) -> ForumReport:
    """Report a post or comment to the moderators (once per reporter and target)."""
    if target_type not in ("post", "comment"):
        raise PolicyViolation("Report a post or a comment.")
    model = ForumPost if target_type == "post" else ForumComment
    if session.get(model, target_id) is None:
        raise NotFound(f"No {target_type} {target_id}.")
    existing = session.scalar(
        select(ForumReport).where(
            ForumReport.target_type == target_type,
            ForumReport.target_id == target_id,
            ForumReport.reporter_id == reporter_id,
        )
    )
    if existing is not None:
        return existing
    row = ForumReport(
        target_type=target_type, target_id=target_id, reporter_id=reporter_id, reason=reason[:300]
    )
    session.add(row)
    session.flush()
    return row


def queue(*, session: Session, limit: int = 100) -> list[ForumReport]:
    """Open reports, oldest first: the moderators' queue."""
    query = (
        select(ForumReport)
        .where(ForumReport.status == ReportStatus.OPEN)
        .order_by(ForumReport.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def resolve_report(*, session: Session, principal: Principal, report_id: int, hide: bool) -> ForumReport:
    """Act on a report: hide the content (every open report on it closes as actioned) or dismiss it."""
    row = session.get(ForumReport, report_id)
    if row is None:
        raise NotFound(f"No report {report_id}.")
    if hide:
        target: ForumPost | ForumComment | None = (
            session.get(ForumPost, row.target_id)
            if row.target_type == "post"
            else session.get(ForumComment, row.target_id)
        )
        if target is not None:
            target.hidden = True
        for other in session.scalars(
            select(ForumReport).where(
                ForumReport.target_type == row.target_type,
                ForumReport.target_id == row.target_id,
                ForumReport.status == ReportStatus.OPEN,
            )
        ):
            other.status = ReportStatus.ACTIONED
    else:
        row.status = ReportStatus.DISMISSED
    audit.record(
        session=session,
        principal=principal,
        action="forum.hide" if hide else "forum.dismiss",
        target_type=row.target_type,
        target_id=row.target_id,
        detail={"report": row.id},
    )
    session.flush()
    return row


def ban(*, session: Session, principal: Principal, customer_id: int, days: int, reason: str) -> ForumBan:
    """Bar an owner from posting and commenting for some days (audited)."""
    if days <= 0 or not reason.strip():
        raise PolicyViolation("A ban needs a positive number of days and a reason.")
    until = utcnow() + timedelta(days=days)
    row = session.scalar(select(ForumBan).where(ForumBan.customer_id == customer_id))
    if row is None:
        row = ForumBan(customer_id=customer_id, until=until, reason=reason[:300])
        session.add(row)
    else:
        row.until, row.reason = until, reason[:300]
    audit.record(
        session=session,
        principal=principal,
        action="forum.ban",
        target_type="customer",
        target_id=customer_id,
        detail={"days": days, "reason": reason[:200]},
    )
    session.flush()
    return row


def board_posts(*, session: Session, board: Board, limit: int = 50) -> list[ForumPost]:
    """Visible posts on a board, newest first."""
    query = (
        select(ForumPost)
        .where(ForumPost.board == board, ForumPost.hidden.is_(False))
        .order_by(ForumPost.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def comments(*, session: Session, post_id: int) -> list[ForumComment]:
    """Visible comments of a post, oldest first."""
    query = (
        select(ForumComment)
        .where(ForumComment.post_id == post_id, ForumComment.hidden.is_(False))
        .order_by(ForumComment.id)
    )
    return list(session.scalars(query))

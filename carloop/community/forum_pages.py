"""Forum pages: boards, a post with its comments, likes, reports, and the staff moderation queue.

Plain forms (no script needed). Owners post, comment, like and report; staff (HQ operations, admin)
answer, mark helpful posts and official answers, work the report queue and ban. @mentions in posts
and comments notify the owners named (``notices.notify_mentions``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.accounts.models import Customer
from carloop.accounts.schemas import Principal, Role
from carloop.community import forum
from carloop.community.models import ForumComment, ForumPost, PostLike
from carloop.community.rules import Board
from carloop.errors import NotFound
from carloop.web.deps import CurrentPrincipal, DbSession, FormCustomer, check_csrf, require_roles

router = APIRouter()


def require_form_moderator(
    request: Request,
    principal: Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)],
    csrf_token: Annotated[str, Form()],
) -> Principal:
    """A moderator submitting a page form that carries this session's anti-forgery token."""
    check_csrf(request, csrf_token)
    return principal


FormModerator = Annotated[Principal, Depends(require_form_moderator)]
Moderator = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]
Text = Annotated[str, Form(min_length=1, max_length=5000)]


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


def _to_post(post_id: int) -> Response:
    return RedirectResponse(f"/community/forum/posts/{post_id}", status_code=303)


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Customer.id, Customer.display_name).where(Customer.id.in_(ids))).all())


def _likes(session: Session, post_ids: list[int]) -> dict[int, int]:
    if not post_ids:
        return {}
    rows = session.execute(
        select(PostLike.post_id, func.count(PostLike.id))
        .where(PostLike.post_id.in_(post_ids))
        .group_by(PostLike.post_id)
    )
    return {int(p): int(n) for p, n in rows}


@router.get("/community/forum")
def forum_home(request: Request, session: DbSession, _: CurrentPrincipal) -> Response:
    """The three boards with their latest posts."""
    latest = {board: forum.board_posts(session=session, board=board, limit=5) for board in Board}
    authors = _names(session, {p.author_id for posts in latest.values() for p in posts})
    return _render(request, "community/forum.html", {"latest": latest, "authors": authors, "board": None})


@router.get("/community/forum/{board}")
def board_page(request: Request, session: DbSession, _: CurrentPrincipal, board: Board) -> Response:
    """One board's posts, newest first, and the form to post on it."""
    posts = forum.board_posts(session=session, board=board)
    return _render(
        request,
        "community/forum_board.html",
        {
            "board": board,
            "posts": posts,
            "authors": _names(session, {p.author_id for p in posts}),
            "likes": _likes(session, [p.id for p in posts]),
        },
    )


@router.post("/community/forum/{board}/posts")
def create_post(
    session: DbSession,
    me: FormCustomer,
    board: Board,
    title: Annotated[str, Form(min_length=1, max_length=200)],
    body: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Post on a board (within the spam limits)."""
    assert me.customer_id is not None
    post = forum.create_post(session=session, author_id=me.customer_id, board=board, title=title, body=body)
    return _to_post(post.id)


@router.get("/community/forum/posts/{post_id}")
def post_page(request: Request, session: DbSession, principal: CurrentPrincipal, post_id: int) -> Response:
    """A post with its comments, likes, the comment form and (for staff) the moderation tools."""
    post = forum.get_post(session=session, post_id=post_id)
    comments = forum.comments(session=session, post_id=post.id)
    authors = _names(session, {post.author_id} | {c.author_id for c in comments if c.author_id})
    liked = principal.customer_id is not None and (
        session.scalar(
            select(PostLike.id).where(
                PostLike.post_id == post.id, PostLike.customer_id == principal.customer_id
            )
        )
        is not None
    )
    return _render(
        request,
        "community/forum_post.html",
        {
            "post": post,
            "comments": comments,
            "authors": authors,
            "likes": _likes(session, [post.id]).get(post.id, 0),
            "liked": liked,
            "is_moderator": principal.role in (Role.HQ_OPS, Role.ADMIN),
        },
    )


@router.post("/community/forum/posts/{post_id}/comments")
def comment(session: DbSession, me: FormCustomer, post_id: int, body: Text) -> Response:
    """Comment on a post as an owner."""
    assert me.customer_id is not None
    post = forum.get_post(session=session, post_id=post_id)
    forum.comment(session=session, post=post, body=body, author_id=me.customer_id)
    return _to_post(post.id)


@router.post("/community/forum/posts/{post_id}/like")
def like(session: DbSession, me: FormCustomer, post_id: int) -> Response:
    """Like a post (once)."""
    assert me.customer_id is not None
    post = forum.get_post(session=session, post_id=post_id)
    forum.like(session=session, post=post, customer_id=me.customer_id)
    return _to_post(post.id)


@router.post("/community/forum/reports")
def report(
    session: DbSession,
    me: FormCustomer,
    target_type: Annotated[Literal["post", "comment"], Form()],
    target_id: Annotated[int, Form(gt=0, lt=2**63)],
    post_id: Annotated[int, Form(gt=0, lt=2**63)],
    reason: Annotated[str, Form(min_length=3, max_length=300)],
) -> Response:
    """Report a post or comment to the moderators."""
    assert me.customer_id is not None
    forum.report(
        session=session,
        reporter_id=me.customer_id,
        target_type=target_type,
        target_id=target_id,
        reason=reason,
    )
    return RedirectResponse(f"/community/forum/posts/{post_id}?reported=1", status_code=303)


@router.post("/community/forum/posts/{post_id}/answer")
def staff_answer(session: DbSession, staff: FormModerator, post_id: int, body: Text) -> Response:
    """Answer on a post as staff."""
    post = forum.get_post(session=session, post_id=post_id)
    forum.comment(session=session, post=post, body=body, staff=staff)
    return _to_post(post.id)


@router.post("/community/forum/posts/{post_id}/official")
def official_answer(
    session: DbSession, staff: FormModerator, post_id: int, comment_id: Annotated[int, Form(gt=0, lt=2**63)]
) -> Response:
    """Mark a staff comment the question's official answer."""
    post = forum.get_post(session=session, post_id=post_id)
    answer = session.get(ForumComment, comment_id)
    if answer is None:
        raise NotFound(f"No comment {comment_id}.")
    forum.mark_official_answer(session=session, principal=staff, post=post, answer=answer)
    return _to_post(post.id)


@router.post("/community/forum/posts/{post_id}/helpful")
def helpful(session: DbSession, staff: FormModerator, post_id: int) -> Response:
    """Mark a post helpful (its author earns points)."""
    post = forum.get_post(session=session, post_id=post_id)
    forum.mark_helpful(session=session, principal=staff, post=post)
    return _to_post(post.id)


@router.get("/staff/forum/moderation")
def moderation_page(request: Request, session: DbSession, _: Moderator) -> Response:
    """The moderators' queue: open reports, oldest first, with what was reported."""
    reports = forum.queue(session=session)
    posts = {
        p.id: p
        for p in session.scalars(
            select(ForumPost).where(
                ForumPost.id.in_([r.target_id for r in reports if r.target_type == "post"])
            )
        )
    }
    comments = {
        c.id: c
        for c in session.scalars(
            select(ForumComment).where(
                ForumComment.id.in_([r.target_id for r in reports if r.target_type == "comment"])
            )
        )
    }
    return _render(
        request, "community/moderation.html", {"reports": reports, "posts": posts, "comments": comments}
    )


@router.post("/staff/forum/moderation/{report_id}")
def decide(
    session: DbSession,
    staff: FormModerator,
    report_id: int,
    decision: Annotated[Literal["hide", "dismiss"], Form()],
) -> Response:
    """Hide the reported content or dismiss the report."""
    forum.resolve_report(session=session, principal=staff, report_id=report_id, hide=decision == "hide")
    return RedirectResponse("/staff/forum/moderation", status_code=303)


@router.post("/staff/forum/bans")
def ban(
    session: DbSession,
    staff: FormModerator,
    customer_id: Annotated[int, Form(gt=0, lt=2**63)],
    days: Annotated[int, Form(gt=0, le=3650)],
    reason: Annotated[str, Form(min_length=3, max_length=300)],
) -> Response:
    """Bar an owner from posting and commenting for some days."""
    forum.ban(session=session, principal=staff, customer_id=customer_id, days=days, reason=reason)
    return RedirectResponse("/staff/forum/moderation?banned=1", status_code=303)

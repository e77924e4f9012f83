"""Board pages: the board with similar-while-typing, a suggestion, staff moderation, roadmap, notices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from carloop.accounts.schemas import Principal, Role
from carloop.community import feedback, forum_pages, rules, service
from carloop.community.api import reads, similar_reads
from carloop.community.rules import Category, SuggestionStatus
from carloop.web.deps import (
    DbSession,
    FormCustomer,
    OptionalPrincipal,
    check_csrf,
    require_roles,
)

router = APIRouter()
router.include_router(forum_pages.router)


def require_form_board_staff(
    request: Request,
    principal: Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)],
    csrf_token: Annotated[str, Form()],
) -> Principal:
    """Board staff submitting a page form that carries this session's anti-forgery token."""
    check_csrf(request, csrf_token)
    return principal


FormBoardStaff = Annotated[Principal, Depends(require_form_board_staff)]
Title = Annotated[str, Form(min_length=1, max_length=200)]
Body = Annotated[str, Form(max_length=5000)]


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


def _back(suggestion_id: int) -> Response:
    return RedirectResponse(f"/community/suggestions/{suggestion_id}", status_code=303)


@router.get("/community")
def board_page(
    request: Request,
    session: DbSession,
    principal: OptionalPrincipal,
    status: Annotated[SuggestionStatus | None, Query()] = None,
) -> Response:
    """The co-creation board and the form to post a suggestion."""
    return _render(
        request,
        "community/board.html",
        {
            "suggestions": reads(session, service.board(session=session, status=status)),
            "status": status,
            "statuses": list(SuggestionStatus),
            "categories": list(Category),
            "draft": None,
            "similar": [],
        },
    )


@router.get("/community/similar")
def similar_while_typing(
    session: DbSession,
    q: Annotated[str, Query(min_length=1, max_length=300)],
    limit: Annotated[int, Query(ge=1, le=10)] = 5,
) -> JSONResponse:
    """JSON for the board page's script: suggestions like the title being typed (the board is public)."""
    return JSONResponse([s.model_dump(mode="json") for s in similar_reads(session, q, limit)])


@router.post("/community/suggestions")
def post_suggestion(
    request: Request,
    session: DbSession,
    me: FormCustomer,
    title: Title,
    category: Annotated[Category, Form()],
    body: Body = "",
    model: Annotated[str, Form(max_length=40)] = "",
    confirmed: Annotated[bool, Form()] = False,
) -> Response:
    """Post a suggestion; when one like it exists, show it first and post only when confirmed."""
    assert me.customer_id is not None
    if not confirmed:
        similar = [s for s in similar_reads(session, f"{title}\n{body}", 5) if s.likely_duplicate]
        if similar:
            draft = {"title": title, "body": body, "category": category, "model": model}
            return _render(
                request,
                "community/board.html",
                {
                    "suggestions": [],
                    "status": None,
                    "statuses": list(SuggestionStatus),
                    "categories": list(Category),
                    "draft": draft,
                    "similar": similar,
                },
            )
    suggestion = service.create_suggestion(
        session=session, author_id=me.customer_id, title=title, body=body, category=category, model=model
    )
    return _back(suggestion.id)


@router.get("/community/suggestions/{suggestion_id}")
def suggestion_page(
    request: Request, session: DbSession, principal: OptionalPrincipal, suggestion_id: int
) -> Response:
    """A suggestion, its votes and history; a merged one redirects to the kept one."""
    suggestion = service.get(session=session, suggestion_id=suggestion_id)
    kept = service.resolve(session=session, suggestion=suggestion)
    if kept.id != suggestion.id:
        return RedirectResponse(f"/community/suggestions/{kept.id}?merged={suggestion.id}", status_code=303)
    customer_id = principal.customer_id if principal is not None else None
    merged = service.merged_into(session=session, suggestion_id=kept.id)
    yes, no = feedback.solved_tally(session=session, suggestion_id=kept.id)
    return _render(
        request,
        "community/suggestion.html",
        {
            "s": reads(session, [kept])[0],
            "history": service.history(session=session, suggestion_id=kept.id),
            "voted": customer_id is not None
            and service.has_voted(session=session, suggestion_id=kept.id, customer_id=customer_id),
            "following": customer_id is not None
            and customer_id in service.followers(session=session, suggestion_id=kept.id),
            "ask_solved": customer_id is not None
            and feedback.pending_solved_question(session=session, suggestion=kept, customer_id=customer_id),
            "tally": (yes, no),
            "merged": merged,
            "merged_from": request.query_params.get("merged"),
            "targets": sorted(rules.TRANSITIONS[kept.status]),
            "is_board_staff": principal is not None and principal.role in (Role.HQ_OPS, Role.ADMIN),
            "follow_up": feedback.follow_up_of(session=session, suggestion_id=kept.id),
        },
    )


@router.post("/community/suggestions/{suggestion_id}/vote")
def vote(session: DbSession, me: FormCustomer, suggestion_id: int) -> Response:
    """Vote for a suggestion (once)."""
    assert me.customer_id is not None
    kept = service.vote(
        session=session,
        suggestion=service.get(session=session, suggestion_id=suggestion_id),
        customer_id=me.customer_id,
    )
    return _back(kept.id)


@router.post("/community/suggestions/{suggestion_id}/unvote")
def unvote(session: DbSession, me: FormCustomer, suggestion_id: int) -> Response:
    """Take my vote back."""
    assert me.customer_id is not None
    kept = service.unvote(
        session=session,
        suggestion=service.get(session=session, suggestion_id=suggestion_id),
        customer_id=me.customer_id,
    )
    return _back(kept.id)


@router.post("/community/suggestions/{suggestion_id}/follow")
def follow(session: DbSession, me: FormCustomer, suggestion_id: int) -> Response:
    """Follow a suggestion's status changes."""
    assert me.customer_id is not None
    kept = service.follow(
        session=session,
        suggestion=service.get(session=session, suggestion_id=suggestion_id),
        customer_id=me.customer_id,
    )
    return _back(kept.id)


@router.post("/community/suggestions/{suggestion_id}/solved")
def solved(
    session: DbSession,
    me: FormCustomer,
    suggestion_id: int,
    answer: Annotated[str, Form(pattern="^(yes|no)$")],
) -> Response:
    """Answer "did this solve it?"."""
    assert me.customer_id is not None
    suggestion = service.get(session=session, suggestion_id=suggestion_id)
    feedback.answer_solved(
        session=session, suggestion=suggestion, customer_id=me.customer_id, solved=answer == "yes"
    )
    return _back(suggestion.id)


@router.post("/community/suggestions/{suggestion_id}/status")
def move(
    session: DbSession,
    staff: FormBoardStaff,
    suggestion_id: int,
    status: Annotated[SuggestionStatus, Form()],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Staff move a suggestion along the roadmap."""
    suggestion = service.get(session=session, suggestion_id=suggestion_id, for_update=True)
    service.move(session=session, principal=staff, suggestion=suggestion, target=status, note=note)
    return _back(suggestion.id)


@router.post("/community/suggestions/{suggestion_id}/merge")
def merge(
    session: DbSession, staff: FormBoardStaff, suggestion_id: int, into: Annotated[int, Form(gt=0, lt=2**63)]
) -> Response:
    """Staff merge this suggestion into another."""
    duplicate = service.get(session=session, suggestion_id=suggestion_id, for_update=True)
    kept = service.get(session=session, suggestion_id=into)
    service.merge(session=session, principal=staff, duplicate=duplicate, kept=kept)
    return _back(kept.id)


@router.post("/community/suggestions/{suggestion_id}/unmerge")
def unmerge(session: DbSession, staff: FormBoardStaff, suggestion_id: int) -> Response:
    """Staff undo a merge."""
    duplicate = service.get(session=session, suggestion_id=suggestion_id, for_update=True)
    service.unmerge(session=session, principal=staff, duplicate=duplicate)
    return _back(duplicate.id)


@router.get("/community/roadmap")
def roadmap_page(request: Request, session: DbSession) -> Response:
    """The public roadmap and changelog."""
    lanes = service.roadmap(session=session)
    return _render(
        request,
        "community/roadmap.html",
        {
            "lanes": [(status, reads(session, lanes[status])) for status in rules.ROADMAP],
            "changelog": reads(session, service.changelog(session=session)),
        },
    )


@router.get("/community/notices")
def notices_page() -> Response:
    """The board's notices are in the one inbox (``/me/notices``); an old link or bookmark goes there."""
    return RedirectResponse("/me/notices", status_code=303)

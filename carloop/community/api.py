"""Co-creation board API: suggestions, similar while typing, votes, follows, statuses, merges, notices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.community import feedback, forum_api, notices, rules, service
from carloop.community.models import Suggestion
from carloop.community.rules import Category, SuggestionStatus
from carloop.community.schemas import (
    MergeRequest,
    NoticeRead,
    RoadmapRead,
    SimilarRead,
    SolvedAnswerCreate,
    SolvedResult,
    StatusMove,
    SuggestionCreate,
    SuggestionRead,
)
from carloop.notices import rules as notice_rules
from carloop.notices import service as notice_prefs
from carloop.web.deps import CurrentCustomer, CurrentPrincipal, DbSession, require_roles

router = APIRouter(tags=["community"])
router.include_router(forum_api.router)
BoardStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]


def _customer(principal: Principal) -> int:
    assert principal.customer_id is not None  # require_customer guarantees it
    return principal.customer_id


def reads(session: Session, suggestions: Sequence[Suggestion]) -> list[SuggestionRead]:
    """API shapes of suggestions, with their vote counts."""
    counts = service.vote_counts(session=session, suggestion_ids=[s.id for s in suggestions])
    return [
        SuggestionRead(
            id=s.id,
            title=s.title,
            body=s.body,
            category=s.category,
            model=s.model,
            status=s.status,
            votes=counts.get(s.id, 0),
            decline_reason=s.decline_reason,
            merged_into_id=s.merged_into_id,
            follow_up_of_id=s.follow_up_of_id,
            created_at=s.created_at,
            shipped_at=s.shipped_at,
        )
        for s in suggestions
    ]


def similar_reads(session: Session, text: str, limit: int) -> list[SimilarRead]:
    """Suggestions like ``text``, flagged when likely the same idea."""
    found = service.similar(session=session, text=text, limit=limit)
    counts = service.vote_counts(session=session, suggestion_ids=[s.id for s, _ in found])
    return [
        SimilarRead(
            id=s.id,
            title=s.title,
            status=s.status,
            votes=counts.get(s.id, 0),
            score=round(score, 3),
            likely_duplicate=rules.likely_duplicate(score),
        )
        for s, score in found
    ]


@router.get("/suggestions")
def board(
    session: DbSession,
    _: CurrentPrincipal,
    status: SuggestionStatus | None = None,
    category: Category | None = None,
) -> list[SuggestionRead]:
    """Suggestions standing on their own, newest first."""
    return reads(session, service.board(session=session, status=status, category=category))


@router.post("/suggestions", status_code=201)
def post_suggestion(session: DbSession, me: CurrentCustomer, body: SuggestionCreate) -> SuggestionRead:
    """Post a suggestion (the author follows it)."""
    suggestion = service.create_suggestion(
        session=session,
        author_id=_customer(me),
        title=body.title,
        body=body.body,
        category=body.category,
        model=body.model,
    )
    return reads(session, [suggestion])[0]


@router.get("/suggestions/similar")
def similar(
    session: DbSession,
    _: CurrentPrincipal,
    q: Annotated[str, Query(min_length=1, max_length=300)],
    limit: Annotated[int, Query(ge=1, le=10)] = 5,
) -> list[SimilarRead]:
    """The suggestions most like the text being typed (Chinese or English)."""
    return similar_reads(session, q, limit)


@router.get("/suggestions/{suggestion_id}", response_model=SuggestionRead)
def read_suggestion(session: DbSession, _: CurrentPrincipal, suggestion_id: int) -> Response | SuggestionRead:
    """A suggestion; a merged one redirects to the suggestion it was merged into."""
    suggestion = service.get(session=session, suggestion_id=suggestion_id)
    kept = service.resolve(session=session, suggestion=suggestion)
    if kept.id != suggestion.id:
        return RedirectResponse(f"/api/v1/suggestions/{kept.id}", status_code=308)
    return reads(session, [suggestion])[0]


@router.post("/suggestions/{suggestion_id}/votes")
def vote(session: DbSession, me: CurrentCustomer, suggestion_id: int) -> SuggestionRead:
    """Vote once (a merged suggestion's vote goes to the kept one); voters follow."""
    kept = service.vote(
        session=session,
        suggestion=service.get(session=session, suggestion_id=suggestion_id),
        customer_id=_customer(me),
    )
    return reads(session, [kept])[0]


@router.delete("/suggestions/{suggestion_id}/votes")
def unvote(session: DbSession, me: CurrentCustomer, suggestion_id: int) -> SuggestionRead:
    """Take my vote back."""
    kept = service.unvote(
        session=session,
        suggestion=service.get(session=session, suggestion_id=suggestion_id),
        customer_id=_customer(me),
    )
    return reads(session, [kept])[0]


@router.post("/suggestions/{suggestion_id}/follow")
def follow(session: DbSession, me: CurrentCustomer, suggestion_id: int) -> SuggestionRead:
    """Follow a suggestion's status changes."""
    kept = service.follow(
        session=session,
        suggestion=service.get(session=session, suggestion_id=suggestion_id),
        customer_id=_customer(me),
    )
    return reads(session, [kept])[0]


@router.post("/suggestions/{suggestion_id}/solved")
def answer_solved(
    session: DbSession, me: CurrentCustomer, suggestion_id: int, body: SolvedAnswerCreate
) -> SolvedResult:
    """Answer "did this solve it?" for a shipped suggestion I voted on."""
    suggestion = service.get(session=session, suggestion_id=suggestion_id)
    follow_up = feedback.answer_solved(
        session=session, suggestion=suggestion, customer_id=_customer(me), solved=body.solved
    )
    yes, no = feedback.solved_tally(
        session=session, suggestion_id=service.resolve(session=session, suggestion=suggestion).id
    )
    return SolvedResult(yes=yes, no=no, follow_up_id=follow_up.id if follow_up is not None else None)


@router.post("/staff/suggestions/{suggestion_id}/status")
def move(session: DbSession, staff: BoardStaff, suggestion_id: int, body: StatusMove) -> SuggestionRead:
    """Move a suggestion along the roadmap; followers are notified (audited)."""
    suggestion = service.get(session=session, suggestion_id=suggestion_id, for_update=True)
    service.move(session=session, principal=staff, suggestion=suggestion, target=body.status, note=body.note)
    return reads(session, [suggestion])[0]


@router.post("/staff/suggestions/{suggestion_id}/merge")
def merge(session: DbSession, staff: BoardStaff, suggestion_id: int, body: MergeRequest) -> SuggestionRead:
    """Merge a duplicate into another suggestion (audited); returns the kept one."""
    duplicate = service.get(session=session, suggestion_id=suggestion_id, for_update=True)
    kept = service.get(session=session, suggestion_id=body.into)
    service.merge(session=session, principal=staff, duplicate=duplicate, kept=kept)
    return reads(session, [kept])[0]


@router.post("/staff/suggestions/{suggestion_id}/unmerge")
def unmerge(session: DbSession, staff: BoardStaff, suggestion_id: int) -> SuggestionRead:
    """Undo a merge: the suggestion stands alone again with its own voters (audited)."""
    duplicate = service.get(session=session, suggestion_id=suggestion_id, for_update=True)
    service.unmerge(session=session, principal=staff, duplicate=duplicate)
    return reads(session, [duplicate])[0]


@router.get("/roadmap")
def roadmap(session: DbSession, _: CurrentPrincipal) -> RoadmapRead:
    """The roadmap (the page at /community/roadmap is public; the API is for signed-in apps)."""
    lanes = service.roadmap(session=session)
    return RoadmapRead(
        planned=reads(session, lanes[SuggestionStatus.PLANNED]),
        in_development=reads(session, lanes[SuggestionStatus.IN_DEVELOPMENT]),
        shipped=reads(session, lanes[SuggestionStatus.SHIPPED]),
    )


@router.get("/changelog")
def changelog(session: DbSession, _: CurrentPrincipal) -> list[SuggestionRead]:
    """Shipped suggestions, most recent first."""
    return reads(session, service.changelog(session=session))


@router.get("/notices")
def my_notices(session: DbSession, me: CurrentCustomer) -> list[NoticeRead]:
    """My notices from the board and the forum (in the one inbox), newest first, in my language."""
    locale = notice_prefs.preferences(session=session, customer_id=_customer(me)).locale
    return [
        NoticeRead(
            id=n.id,
            kind=n.kind,
            subject=notice_rules.in_language(locale, n.subject_en, n.subject_zh),
            body=notice_rules.in_language(locale, n.body_en, n.body_zh),
            link=n.link,
            created_at=n.created_at,
            read=n.read_at is not None,
        )
        for n in notices.notices_of(session=session, customer_id=_customer(me))
    ]

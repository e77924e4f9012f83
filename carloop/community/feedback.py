"""After a suggestion ships: "did this solve it?", the tally, and the follow-up enough "no" answers open."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.audit import service as audit
from carloop.community import index, rules, service
from carloop.community.models import SolvedAnswer, StatusChange, Suggestion
from carloop.community.rules import SuggestionStatus
from carloop.errors import PolicyViolation


def answer_solved(
    *, session: Session, suggestion: Suggestion, customer_id: int, solved: bool
) -> Suggestion | None:
    """A voter answers "did this solve it?"; enough "no" opens a linked follow-up, which is returned."""
    kept = service.resolve(session=session, suggestion=suggestion)
    if kept.status is not SuggestionStatus.SHIPPED:
        raise PolicyViolation("Only a shipped suggestion asks whether it solved the problem.")
    if customer_id not in service.voters(session=session, suggestion_id=kept.id):
        raise PolicyViolation("Only the suggestion's voters are asked.")
    answer = session.scalar(
        select(SolvedAnswer).where(
            SolvedAnswer.suggestion_id == kept.id, SolvedAnswer.customer_id == customer_id
        )
    )
    if answer is None:
        session.add(SolvedAnswer(suggestion_id=kept.id, customer_id=customer_id, solved=solved))
    else:
        answer.solved = solved
    session.flush()
    yes, no = solved_tally(session=session, suggestion_id=kept.id)
    if not rules.should_reopen(yes, no):
        return None
    return _open_follow_up(session, kept)


def solved_tally(*, session: Session, suggestion_id: int) -> tuple[int, int]:
    """How many voters said the shipped suggestion solved their problem, and how many said not."""
    rows = session.execute(
        select(SolvedAnswer.solved, func.count(SolvedAnswer.id))
        .where(SolvedAnswer.suggestion_id == suggestion_id)
        .group_by(SolvedAnswer.solved)
    )
    tally = {bool(solved): int(n) for solved, n in rows}
    return tally.get(True, 0), tally.get(False, 0)


def _open_follow_up(session: Session, shipped: Suggestion) -> Suggestion:
    follow_up = session.scalar(select(Suggestion).where(Suggestion.follow_up_of_id == shipped.id))
    if follow_up is None:
        follow_up = Suggestion(
            author_id=None,
            title=f"Follow-up: {shipped.title}"[:200],
            body=shipped.body,
            category=shipped.category,
            model=shipped.model,
            status=SuggestionStatus.UNDER_REVIEW,
            follow_up_of_id=shipped.id,
        )
        session.add(follow_up)
        session.flush()
        index.mark_stale(session=session)
        session.add(
            StatusChange(
                suggestion_id=follow_up.id,
                to_status=str(follow_up.status),
                actor=audit.SYSTEM_ACTOR,
                note=f"reopened: voters said #{shipped.id} did not solve it",
            )
        )
    unsolved = session.scalars(
        select(SolvedAnswer.customer_id).where(
            SolvedAnswer.suggestion_id == shipped.id, SolvedAnswer.solved.is_(False)
        )
    )
    for customer_id in unsolved:  # everyone who said "no" follows the follow-up
        service.add_follower(session, follow_up.id, customer_id)
    session.flush()
    return follow_up


def pending_solved_question(*, session: Session, suggestion: Suggestion, customer_id: int) -> bool:
    """Whether an owner should be asked "did this solve it?" here (a voter, not yet answered)."""
    if suggestion.status is not SuggestionStatus.SHIPPED:
        return False
    if customer_id not in service.voters(session=session, suggestion_id=suggestion.id):
        return False
    answered = session.scalar(
        select(SolvedAnswer.id).where(
            SolvedAnswer.suggestion_id == suggestion.id, SolvedAnswer.customer_id == customer_id
        )
    )
    return answered is None


def follow_up_of(*, session: Session, suggestion_id: int) -> Suggestion | None:
    """The follow-up opened because voters said this shipped suggestion did not solve it."""
    return session.scalar(select(Suggestion).where(Suggestion.follow_up_of_id == suggestion_id))

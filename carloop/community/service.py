"""Board use cases: post, find similar, vote, follow, move status, merge and unmerge, ask "solved?"."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal
from carloop.audit import service as audit
from carloop.clock import utcnow
from carloop.community import index, notices, rules
from carloop.community.events import SuggestionTextChanged
from carloop.community.models import (
    Follower,
    StatusChange,
    Suggestion,
    Vote,
)
from carloop.community.rules import Category, NoticeKind, SuggestionStatus
from carloop.errors import Conflict, InvalidTransition, NotFound, PolicyViolation
from carloop.loyalty import service as loyalty
from carloop.loyalty.rules import EarnReason
from carloop.outbox import service as outbox


def create_suggestion(
    *, session: Session, author_id: int, title: str, body: str, category: Category, model: str = ""
) -> Suggestion:
    """Post a suggestion; its author follows it."""
    title = " ".join(title.split())
    if len(title) < 4:
        raise PolicyViolation("Give the suggestion a title of at least 4 characters.")
    suggestion = Suggestion(
        author_id=author_id, title=title[:200], body=body.strip(), category=category, model=model
    )
    session.add(suggestion)
    session.flush()
    session.add(
        StatusChange(
            suggestion_id=suggestion.id, to_status=str(suggestion.status), actor=f"customer:{author_id}"
        )
    )
    add_follower(session, suggestion.id, author_id)
    # the sentence embedding is computed after commit, so posting does not wait for the model
    outbox.publish(session=session, event=SuggestionTextChanged(suggestion_id=suggestion.id))
    session.flush()
    index.mark_stale(session=session)
    return suggestion


def get(*, session: Session, suggestion_id: int, for_update: bool = False) -> Suggestion:
    """A suggestion by id (merged ones included)."""
    query = select(Suggestion).where(Suggestion.id == suggestion_id)
    if for_update:
        query = query.with_for_update()
    suggestion = session.scalar(query)
    if suggestion is None:
        raise NotFound(f"No suggestion {suggestion_id}.")
    return suggestion


def resolve(*, session: Session, suggestion: Suggestion) -> Suggestion:
    """The suggestion that stands for this one: itself, or the one it was merged into."""
    seen = {suggestion.id}
    while suggestion.merged_into_id is not None and suggestion.merged_into_id not in seen:
        seen.add(suggestion.merged_into_id)
        suggestion = get(session=session, suggestion_id=suggestion.merged_into_id)
    return suggestion


def group_ids(*, session: Session, suggestion_id: int) -> list[int]:
    """A kept suggestion and every suggestion merged into it."""
    merged = session.scalars(select(Suggestion.id).where(Suggestion.merged_into_id == suggestion_id))
    return [suggestion_id, *merged]


def merged_into(*, session: Session, suggestion_id: int) -> list[Suggestion]:
    """The suggestions merged into this one."""
    query = select(Suggestion).where(Suggestion.merged_into_id == suggestion_id).order_by(Suggestion.id)
    return list(session.scalars(query))


def by_ids(*, session: Session, suggestion_ids: Iterable[int]) -> list[Suggestion]:
    """Suggestions by id."""
    ids = list(suggestion_ids)
    return list(session.scalars(select(Suggestion).where(Suggestion.id.in_(ids)))) if ids else []


def similar(
    *, session: Session, text: str, limit: int = 5, exclude: Iterable[int] = ()
) -> list[tuple[Suggestion, float]]:
    """The suggestions most like ``text`` (merged ones excluded), best first, with a 0..1 score."""
    hits = index.search(session=session, text=text, limit=limit, exclude=exclude)
    if not hits:
        return []
    rows = {
        s.id: s for s in session.scalars(select(Suggestion).where(Suggestion.id.in_([h for h, _ in hits])))
    }
    return [(rows[h], score) for h, score in hits if h in rows]


def vote_counts(*, session: Session, suggestion_ids: Iterable[int]) -> dict[int, int]:
    """Unique voters of each kept suggestion, counting votes cast on suggestions merged into it."""
    ids = list(suggestion_ids)
    if not ids:
        return {}
    root = func.coalesce(Suggestion.merged_into_id, Suggestion.id)
    rows = session.execute(
        select(root, func.count(func.distinct(Vote.customer_id)))
        .join(Vote, Vote.suggestion_id == Suggestion.id)
        .where(root.in_(ids))
        .group_by(root)
    )
    counts = dict.fromkeys(ids, 0)
    counts.update({int(r): int(n) for r, n in rows})
    return counts


def voters(*, session: Session, suggestion_id: int) -> set[int]:
    """The unique voters of a kept suggestion and of every suggestion merged into it."""
    ids = group_ids(session=session, suggestion_id=suggestion_id)
    return set(session.scalars(select(Vote.customer_id).where(Vote.suggestion_id.in_(ids))))


def followers(*, session: Session, suggestion_id: int) -> set[int]:
    """The unique followers of a kept suggestion and of every suggestion merged into it."""
    ids = group_ids(session=session, suggestion_id=suggestion_id)
    return set(session.scalars(select(Follower.customer_id).where(Follower.suggestion_id.in_(ids))))


def has_voted(*, session: Session, suggestion_id: int, customer_id: int) -> bool:
    """Whether an owner's vote counts for this (kept) suggestion."""
    return customer_id in voters(session=session, suggestion_id=suggestion_id)


def vote(*, session: Session, suggestion: Suggestion, customer_id: int) -> Suggestion:
    """One vote per owner: cast it on the kept suggestion (a merged one redirects); voters follow."""
    kept = resolve(session=session, suggestion=suggestion)
    if kept.status in (SuggestionStatus.SHIPPED, SuggestionStatus.DECLINED):
        raise PolicyViolation("Voting has closed on this suggestion.")
    if not has_voted(session=session, suggestion_id=kept.id, customer_id=customer_id):
        session.add(Vote(suggestion_id=kept.id, customer_id=customer_id))
    add_follower(session, kept.id, customer_id)
    session.flush()
    return kept


def unvote(*, session: Session, suggestion: Suggestion, customer_id: int) -> Suggestion:
    """Take an owner's vote back from a kept suggestion and everything merged into it."""
    kept = resolve(session=session, suggestion=suggestion)
    ids = group_ids(session=session, suggestion_id=kept.id)
    for row in session.scalars(
        select(Vote).where(Vote.suggestion_id.in_(ids), Vote.customer_id == customer_id)
    ):
        session.delete(row)
    session.flush()
    return kept


def follow(*, session: Session, suggestion: Suggestion, customer_id: int) -> Suggestion:
    """Get a notice whenever the (kept) suggestion changes status."""
    kept = resolve(session=session, suggestion=suggestion)
    add_follower(session, kept.id, customer_id)
    session.flush()
    return kept


def add_follower(session: Session, suggestion_id: int, customer_id: int) -> None:
    """Make an owner follow a suggestion (once)."""
    exists = session.scalar(
        select(Follower.id).where(
            Follower.suggestion_id == suggestion_id, Follower.customer_id == customer_id
        )
    )
    if exists is None:
        session.add(Follower(suggestion_id=suggestion_id, customer_id=customer_id))


def move(
    *,
    session: Session,
    principal: Principal | None,
    suggestion: Suggestion,
    target: SuggestionStatus,
    note: str = "",
) -> Suggestion:
    """Staff move a suggestion along the roadmap; followers are told, voters asked "solved?" on ship."""
    if suggestion.merged_into_id is not None:
        raise Conflict("This suggestion was merged; move the one it was merged into.")
    current = suggestion.status
    if current is target:
        return suggestion
    if not rules.may_move(current, target):
        raise InvalidTransition(f"A {current} suggestion cannot become {target}.")
    if rules.needs_reason(target) and not note.strip():
        raise PolicyViolation("Say why the suggestion is declined.")
    now = utcnow()
    suggestion.status = target
    suggestion.updated_at = now
    if target is SuggestionStatus.DECLINED:
        suggestion.decline_reason = note.strip()[:500]
    if target is SuggestionStatus.SHIPPED:
        suggestion.shipped_at = now
    actor = principal.actor if principal is not None else audit.SYSTEM_ACTOR
    change = StatusChange(
        suggestion_id=suggestion.id,
        from_status=str(current),
        to_status=str(target),
        actor=actor,
        note=note[:500],
    )
    session.add(change)
    session.flush()
    notices.notify(
        session,
        followers(session=session, suggestion_id=suggestion.id),
        NoticeKind.STATUS_CHANGED,
        suggestion,
        change.id,
        rules.status_notice(suggestion.title, target, note[:500]),
    )
    if target is SuggestionStatus.SHIPPED:
        notices.notify(
            session,
            voters(session=session, suggestion_id=suggestion.id),
            NoticeKind.SOLVED_QUESTION,
            suggestion,
            change.id,
            rules.solved_question_notice(suggestion.title),
        )
    if target in rules.ACCEPTED and suggestion.author_id is not None:
        loyalty.award_points(
            session=session,
            customer_id=suggestion.author_id,
            reason=EarnReason.SUGGESTION_ACCEPTED,
            key=str(suggestion.id),
            memo=suggestion.title[:100],
        )
    if principal is not None:
        audit.record(
            session=session,
            principal=principal,
            action="suggestion.status",
            target_type="suggestion",
            target_id=suggestion.id,
            detail={"from": str(current), "to": str(target), "note": note[:200]},
        )
    session.flush()
    return suggestion


def merge(*, session: Session, principal: Principal, duplicate: Suggestion, kept: Suggestion) -> Suggestion:
    """Merge a duplicate into the kept suggestion: its voters and followers count there; it redirects."""
    if duplicate.id == kept.id:
        raise PolicyViolation("A suggestion cannot be merged into itself.")
    if duplicate.merged_into_id is not None:
        raise Conflict(f"Suggestion {duplicate.id} is already merged.")
    if kept.merged_into_id is not None:
        raise Conflict(f"Suggestion {kept.id} is itself merged; merge into {kept.merged_into_id}.")
    if session.scalar(select(Suggestion.id).where(Suggestion.merged_into_id == duplicate.id).limit(1)):
        raise Conflict(f"Unmerge the duplicates of suggestion {duplicate.id} first.")
    duplicate.merged_into_id = kept.id
    duplicate.updated_at = utcnow()
    change = StatusChange(
        suggestion_id=duplicate.id,
        from_status=str(duplicate.status),
        to_status=str(duplicate.status),
        actor=principal.actor,
        note=f"merged into #{kept.id}",
    )
    session.add(change)
    session.flush()
    dup_followers = set(
        session.scalars(select(Follower.customer_id).where(Follower.suggestion_id == duplicate.id))
    )
    notices.notify(
        session,
        dup_followers,
        NoticeKind.MERGED,
        duplicate,
        change.id,
        rules.merged_notice(duplicate.title, kept.title[:200]),
    )
    audit.record(
        session=session,
        principal=principal,
        action="suggestion.merge",
        target_type="suggestion",
        target_id=duplicate.id,
        detail={"into": kept.id},
    )
    session.flush()
    index.mark_stale(session=session)
    return kept


def unmerge(*, session: Session, principal: Principal, duplicate: Suggestion) -> Suggestion:
    """Undo a merge: the suggestion stands alone again with exactly its own voters and followers."""
    if duplicate.merged_into_id is None:
        raise Conflict(f"Suggestion {duplicate.id} is not merged.")
    kept_id = duplicate.merged_into_id
    duplicate.merged_into_id = None
    duplicate.updated_at = utcnow()
    session.add(
        StatusChange(
            suggestion_id=duplicate.id,
            from_status=str(duplicate.status),
            to_status=str(duplicate.status),
            actor=principal.actor,
            note=f"unmerged from #{kept_id}",
        )
    )
    audit.record(
        session=session,
        principal=principal,
        action="suggestion.unmerge",
        target_type="suggestion",
        target_id=duplicate.id,
        detail={"from": kept_id},
    )
    session.flush()
    index.mark_stale(session=session)
    return duplicate


def board(
    *,
    session: Session,
    status: SuggestionStatus | None = None,
    category: Category | None = None,
    limit: int = 50,
) -> list[Suggestion]:
    """Suggestions standing on their own (merged ones hidden), newest first."""
    query = select(Suggestion).where(Suggestion.merged_into_id.is_(None))
    if status is not None:
        query = query.where(Suggestion.status == status)
    if category is not None:
        query = query.where(Suggestion.category == category)
    return list(session.scalars(query.order_by(Suggestion.id.desc()).limit(limit)))


def roadmap(*, session: Session) -> dict[SuggestionStatus, list[Suggestion]]:
    """Planned, in-development and shipped suggestions, by status."""
    rows = session.scalars(
        select(Suggestion)
        .where(Suggestion.merged_into_id.is_(None), Suggestion.status.in_(rules.ROADMAP))
        .order_by(Suggestion.updated_at.desc())
    )
    out: dict[SuggestionStatus, list[Suggestion]] = {s: [] for s in rules.ROADMAP}
    for row in rows:
        out[row.status].append(row)
    return out


def changelog(*, session: Session, limit: int = 50) -> list[Suggestion]:
    """Shipped suggestions, most recent first."""
    query = (
        select(Suggestion)
        .where(Suggestion.status == SuggestionStatus.SHIPPED, Suggestion.merged_into_id.is_(None))
        .order_by(Suggestion.shipped_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def history(*, session: Session, suggestion_id: int) -> list[StatusChange]:
    """A suggestion's status changes, oldest first."""
    query = select(StatusChange).where(StatusChange.suggestion_id == suggestion_id).order_by(StatusChange.id)
    return list(session.scalars(query))

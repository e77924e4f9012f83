"""Suggestions' sentence embeddings: computed after a post commits (outbox) or backfilled in batches.

A vector is written with the model's name and ``embedded_at``; the similar-suggestion index catches
up on ``embedded_at`` the way it catches up on ``updated_at`` for text, so a new vector reaches every
process's index within ``index.MAX_AGE``. Writing a vector leaves ``updated_at`` alone (the board
sorts by it, and a backfill must not make every suggestion look freshly changed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from carloop.clock import utcnow
from carloop.community import embedding, index
from carloop.community.index import text_of
from carloop.community.models import Suggestion


def embed_suggestions(*, session: Session, suggestion_ids: Sequence[int]) -> int:
    """Embed these suggestions' current text and store the vectors; returns how many were written."""
    if not suggestion_ids:
        return 0
    rows = session.execute(
        select(Suggestion.id, Suggestion.title, Suggestion.body).where(
            Suggestion.id.in_(list(suggestion_ids))
        )
    ).all()
    if not rows:
        return 0
    texts = [text_of(title, body) for _, title, body in rows]
    unique = sorted(set(texts))  # a board repeats itself; embed each distinct text once
    vectors = dict(zip(unique, embedding.embed(unique), strict=True))
    now = utcnow()
    for (sid, _, _), text in zip(rows, texts, strict=True):
        session.execute(
            update(Suggestion)
            .where(Suggestion.id == sid)
            .values(
                embedding=embedding.to_bytes(vectors[text]),
                embedding_model=embedding.MODEL,
                embedded_at=now,
                updated_at=Suggestion.updated_at,  # not a change of the suggestion itself
            )
            .execution_options(synchronize_session=False)
        )
    index.mark_stale(session=session)  # this process's index picks the vectors up at its next lookup
    return len(rows)


def _due(everything: bool):  # type: ignore[no-untyped-def]
    """The suggestions a backfill embeds: those without a vector of the current model (or all)."""
    if everything:
        return Suggestion.id.is_not(None)
    return or_(Suggestion.embedding.is_(None), Suggestion.embedding_model != embedding.MODEL)


def count_due(*, session: Session, everything: bool = False) -> int:
    """How many suggestions a backfill would embed."""
    return int(session.scalar(select(func.count()).select_from(Suggestion).where(_due(everything))) or 0)


def backfill(
    factory: sessionmaker[Session],
    *,
    everything: bool = False,
    batch: int = embedding.BATCH,
    advance: Callable[[int], object] = lambda n: None,
) -> int:
    """Embed every suggestion that lacks a current vector, one transaction per batch; returns the count.

    Walks the ids upwards, so a suggestion posted meanwhile is left to the outbox and a crash loses at
    most one batch (run it again: finished rows are not due any more).
    """
    done, after = 0, 0
    while True:
        with factory.begin() as session:
            ids = list(
                session.scalars(
                    select(Suggestion.id)
                    .where(_due(everything), Suggestion.id > after)
                    .order_by(Suggestion.id)
                    .limit(batch)
                )
            )
            if not ids:
                return done
            done += embed_suggestions(session=session, suggestion_ids=ids)
        after = ids[-1]
        advance(len(ids))

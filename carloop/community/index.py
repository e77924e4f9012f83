"""The similar-suggestion indexes for this process, kept in step with the database on every lookup.

Two indexes answer a lookup together: the lexical one (BM25 over words, character n-grams and the
bilingual lexicon, ``similar.py``) and the semantic one (an HNSW graph over the suggestions' stored
sentence embeddings, ``vectors.py``); their rankings are fused by reciprocal rank fusion.

Both are caches: any process rebuilds them from the suggestions table, and a lookup first applies the
rows changed since the last catch-up (indexed ``updated_at`` and ``embedded_at`` range queries) when
this process changed a suggestion or the last catch-up is older than ``MAX_AGE``; so a restart never
sees stale results and another process's new suggestion (or new vector) shows up within half a second.
A suggestion whose vector is not written yet (the outbox embeds it just after the post commits, and
``carloop community reindex`` backfills old boards) is found by the lexical index alone meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.community import embedding
from carloop.community.models import Suggestion
from carloop.community.similar import SimilarIndex
from carloop.community.vectors import DEPTH, VectorIndex, fuse, language


@dataclass
class _State:
    index: SimilarIndex = field(default_factory=SimilarIndex)
    seen_until: datetime | None = None
    versions: dict[int, datetime] = field(default_factory=dict)
    vectors: dict[str, VectorIndex] = field(
        default_factory=lambda: {"zh": VectorIndex(), "en": VectorIndex()}
    )
    text_key: dict[int, int] = field(default_factory=dict)  # id -> hash of its text (one result per text)
    embedded_until: datetime | None = None
    vector_versions: dict[int, datetime] = field(default_factory=dict)
    vector_refresh_s: float = 0.0  # how long the last semantic catch-up took (the first one builds the graph)
    merged: set[int] = field(default_factory=set)  # vectors stay indexed; merged ones are skipped at search
    refreshed_at: float = -1e18  # time.monotonic() of the last catch-up
    stale: bool = True  # this process changed suggestions since then
    lock: threading.Lock = field(default_factory=threading.Lock)


LOOK_BACK = timedelta(seconds=5)
COPIES = 4  # candidates fetched per distinct text wanted (a board repeats short texts)
BULK = 1000  # vectors added at once from which the graph is built on every core
MAX_AGE = 0.5  # seconds another process's new suggestion may take to appear; this process's own at once
_STATES: dict[str, _State] = {}
_STATES_LOCK = threading.Lock()


def text_of(title: str, body: str) -> str:
    """What of a suggestion is indexed: its title and the start of its body."""
    return f"{title}\n{body[:300]}"


def _text_key(text: str) -> int:
    """Texts equal but for case and spacing get one key (one vector, one result)."""
    return hash(" ".join(text.lower().split()))


def _state(session: Session) -> _State:
    key = str(session.get_bind().engine.url)
    with _STATES_LOCK:
        state = _STATES.get(key)
        if state is None:
            state = _STATES[key] = _State()
        return state


def refresh(*, session: Session, threads: int = 1) -> SimilarIndex:
    """The index with every suggestion changed since the last refresh applied (``threads``: first build)."""
    state = _state(session)
    with state.lock:
        state.stale = False
        state.refreshed_at = time.monotonic()
        query = select(
            Suggestion.id, Suggestion.title, Suggestion.body, Suggestion.merged_into_id, Suggestion.updated_at
        )
        if state.seen_until is not None:
            # Look back a little: a transaction that stamped a row earlier may have committed since.
            query = query.where(Suggestion.updated_at >= state.seen_until - LOOK_BACK)
        for sid, title, body, merged_into, updated in session.execute(query.order_by(Suggestion.updated_at)):
            if state.versions.get(sid) == updated:
                continue
            state.versions[sid] = updated
            if merged_into is None:
                text = text_of(title, body)
                state.index.add(int(sid), text)
                state.text_key[int(sid)] = _text_key(text)
                state.merged.discard(int(sid))
            else:
                state.index.remove(int(sid))
                state.merged.add(int(sid))
            if state.seen_until is None or updated > state.seen_until:
                state.seen_until = updated
        _refresh_vectors(session, state, threads)
        return state.index


def _refresh_vectors(session: Session, state: _State, threads: int) -> None:
    started = time.perf_counter()
    query = select(
        Suggestion.id,
        Suggestion.title,
        Suggestion.body,
        Suggestion.embedding,
        Suggestion.embedding_model,
        Suggestion.embedded_at,
    ).where(Suggestion.embedded_at.is_not(None))
    if state.embedded_until is not None:
        query = query.where(Suggestion.embedded_at >= state.embedded_until - LOOK_BACK)
    added: dict[str, tuple[list[int], list[np.ndarray], list[int]]] = {"zh": ([], [], []), "en": ([], [], [])}
    for sid, title, body, data, model, embedded in session.execute(query.order_by(Suggestion.embedded_at)):
        if embedded is None or state.vector_versions.get(sid) == embedded:
            continue
        state.vector_versions[sid] = embedded
        for vectors in state.vectors.values():
            vectors.remove(int(sid))
        vector = embedding.from_bytes(data or b"") if model == embedding.MODEL else None
        if vector is not None and len(vector):
            text = text_of(title, body)
            ids, rows, keys = added[language(text)]
            ids.append(int(sid))
            rows.append(vector)
            keys.append(_text_key(text))
        if state.embedded_until is None or embedded > state.embedded_until:
            state.embedded_until = embedded
    for lang, (ids, rows, keys) in added.items():
        if ids:
            # a first build (or a large backfill) uses every core; a catch-up of a few posts one thread
            state.vectors[lang].add_many(
                ids, np.vstack(rows), text_keys=keys, threads=threads if len(ids) < BULK else 0
            )
    state.vector_refresh_s = time.perf_counter() - started


def search(
    *, session: Session, text: str, limit: int = 5, exclude: Iterable[int] = ()
) -> list[tuple[int, float]]:
    """The ids of the suggestions most similar to ``text``, with their scores (lexical and semantic fused)."""
    state = _state(session)
    if state.stale or time.monotonic() - state.refreshed_at > MAX_AGE:
        refresh(session=session)
    skip = set(exclude)
    # no vectors yet (a board never backfilled): skip embedding the typed text
    indexed = sum(len(v) for v in state.vectors.values())
    vector = embedding.embed_one(text) if indexed and text.strip() else None
    typed = language(text)
    other = "en" if typed == "zh" else "zh"
    with state.lock:
        lexical = state.index.search(text, DEPTH * COPIES, exclude=skip)
        same: list[tuple[int, float]] = []
        across: list[tuple[int, float]] = []
        if vector is not None:
            hidden = skip | state.merged
            same = state.vectors[typed].search(vector, DEPTH, exclude=hidden)
            across = state.vectors[other].search(vector, DEPTH, exclude=hidden)
        return fuse(lexical, same, across, limit, text_key=state.text_key)


def stats(*, session: Session) -> dict[str, float]:
    """This process's indexes of this database: sizes, the semantic index's memory and last catch-up time."""
    state = _state(session)
    return {
        "texts": len(state.index),
        "vectors": sum(len(v) for v in state.vectors.values()),
        "distinct_vectors": sum(v.distinct for v in state.vectors.values()),
        "vector_bytes": sum(v.memory_bytes for v in state.vectors.values()),
        "vector_build_s": state.vector_refresh_s,
    }


def mark_stale(*, session: Session) -> None:
    """This process changed a suggestion's text or merge state: catch up before the next lookup."""
    _state(session).stale = True


def forget(*, session: Session) -> None:
    """Drop this database's cached index (tests that recreate the schema call it)."""
    with _STATES_LOCK:
        _STATES.pop(str(session.get_bind().engine.url), None)

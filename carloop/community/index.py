"""The similar-suggestion index for this process, kept in step with the database on every lookup.

The index is a cache: any process rebuilds it from the suggestions table, and a lookup first applies
the rows changed since the last catch-up (an indexed ``updated_at`` range query) when this process
changed a suggestion or the last catch-up is older than ``MAX_AGE``; so a restart never sees stale
results and another process's new suggestion shows up within half a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.community.models import Suggestion
from carloop.community.similar import SimilarIndex


@dataclass
class _State:
    index: SimilarIndex = field(default_factory=SimilarIndex)
    seen_until: datetime | None = None
    versions: dict[int, datetime] = field(default_factory=dict)
    refreshed_at: float = -1e18  # time.monotonic() of the last catch-up
    stale: bool = True  # this process changed suggestions since then
    lock: threading.Lock = field(default_factory=threading.Lock)


LOOK_BACK = timedelta(seconds=5)
MAX_AGE = 0.5  # seconds another process's new suggestion may take to appear; this process's own at once
_STATES: dict[str, _State] = {}
_STATES_LOCK = threading.Lock()


def text_of(title: str, body: str) -> str:
    """What of a suggestion is indexed: its title and the start of its body."""
    return f"{title}\n{body[:300]}"


def _state(session: Session) -> _State:
    key = str(session.get_bind().engine.url)
    with _STATES_LOCK:
        state = _STATES.get(key)
        if state is None:
            state = _STATES[key] = _State()
        return state


def refresh(*, session: Session) -> SimilarIndex:
    """The index with every suggestion changed since the last refresh applied."""
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
                state.index.add(int(sid), text_of(title, body))
            else:
                state.index.remove(int(sid))
            if state.seen_until is None or updated > state.seen_until:
                state.seen_until = updated
        return state.index


def search(
    *, session: Session, text: str, limit: int = 5, exclude: Iterable[int] = ()
) -> list[tuple[int, float]]:
    """The ids of the suggestions most similar to ``text``, with their scores."""
    state = _state(session)
    if state.stale or time.monotonic() - state.refreshed_at > MAX_AGE:
        refresh(session=session)
    with state.lock:
        return state.index.search(text, limit, exclude=exclude)


def mark_stale(*, session: Session) -> None:
    """This process changed a suggestion's text or merge state: catch up before the next lookup."""
    _state(session).stale = True


def forget(*, session: Session) -> None:
    """Drop this database's cached index (tests that recreate the schema call it)."""
    with _STATES_LOCK:
        _STATES.pop(str(session.get_bind().engine.url), None)

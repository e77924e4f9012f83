"""Warm the duplicate hints at server start: load the sentence encoder and build this process's indexes.

Without it the first lookup after a restart loads the model (seconds) and builds the lexical and vector
indexes from the whole board (tens of seconds at 100,000 suggestions) while the owner waits, and every
lookup behind it queues on the index lock. A daemon thread does it instead, right after start-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from carloop.settings import Settings

log = logging.getLogger("carloop.community")


def enabled(settings: Settings) -> bool:
    """``similar_warmup`` if set, else on everywhere but in tests."""
    if settings.similar_warmup is not None:
        return settings.similar_warmup
    return settings.environment != "test"


def warm(sessions: sessionmaker[Session]) -> None:
    """Load the encoder and catch the indexes up with the board (a first build uses every core)."""
    from carloop.community import embedding, index

    try:
        embedding.embed(["warm-up"])
        with sessions() as session:
            index.refresh(session=session)
    except Exception:  # a lookup builds what is missing on its own; the warm-up only saves it the wait
        log.exception("warming the similar-suggestion indexes failed")


def start(settings: Settings, sessions: sessionmaker[Session]) -> Callable[[], None]:
    """The lifespan component: warm up in the background; its stop waits a moment for the thread."""
    if not enabled(settings):
        return lambda: None
    thread = threading.Thread(target=warm, args=(sessions,), name="carloop-similar-warmup", daemon=True)
    thread.start()
    return lambda: thread.join(timeout=1)

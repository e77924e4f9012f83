"""A background thread that dispatches outbox events while the server runs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.orm import Session, sessionmaker

from carloop.outbox.service import Handler, dispatch
from carloop.settings import Settings

log = logging.getLogger("carloop.outbox")


class OutboxWorker:
    """Polls the outbox every ``interval`` seconds and runs the handlers; stops on ``stop()``."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        interval: float,
        *,
        handlers: Mapping[str, Sequence[Handler]],
    ) -> None:
        self.factory = factory
        self.interval = interval
        self.handlers = {name: list(funcs) for name, funcs in handlers.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carloop-outbox", daemon=True)

    def start(self) -> None:
        """Begin polling in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish and wait for it briefly."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        handlers = self.handlers
        while not self._stop.wait(self.interval):
            try:
                dispatch(self.factory, handlers)
            except Exception:  # keep polling; the error is logged and the rows stay pending
                log.exception("outbox dispatch failed")


def start(
    settings: Settings, sessions: sessionmaker[Session], *, handlers: Mapping[str, Sequence[Handler]]
) -> Callable[[], None]:
    """The lifespan component: start the worker and return its stop (a no-op when turned off)."""
    if settings.outbox_interval <= 0:
        return lambda: None
    worker = OutboxWorker(sessions, settings.outbox_interval, handlers=handlers)
    worker.start()
    return worker.stop

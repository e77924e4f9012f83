"""The lean booking route, in raw ASGI in front of the rest of the app.

``POST /api/v1/appointments`` for a test drive or a service job by a signed-in buyer is answered
here: the session, the store and the slot's holds are read on a read connection (a full slot is
refused at once, 9 of 10 attempts in a rush), and a booking that may succeed is queued to the one
group-commit writer of the process (``web.writer``, shared with the lanes), which stores everything
queued meanwhile in one transaction (see ``appointments.fast``). The unique key on
``appointment_hold`` still decides every race.

Anything else — deliveries, staff or missing tokens, bodies that do not validate — is passed to
the FastAPI app with its body replayed, so every refusal there keeps its usual problem answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from carloop.appointments import fast
from carloop.appointments.schemas import AppointmentCreate
from carloop.clock import utcnow
from carloop.errors import DomainError
from carloop.web.problems import PROBLEM_BASE, TITLES, status_for
from carloop.web.writer import GroupCommitWriter, WriterConfig

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH = "/api/v1/appointments"
MAX_BODY = 16 * 1024
log = logging.getLogger("carloop.appointments")


def _store(session: Session, attempts: list[fast.Attempt], now: datetime) -> list[int | None]:
    """The booking lane's batched use case for the group-commit writer (``fast.write_batch``)."""
    return fast.write_batch(session.connection(), attempts, now)


class BookingApp:
    """Raw ASGI: the lean booking route; every other request goes to ``inner`` untouched."""

    def __init__(self, inner: ASGIApp, app: FastAPI) -> None:
        self.inner = inner
        settings = app.state.settings
        engine: Engine = app.state.engine
        # The one read per attempt runs on the event loop itself. On SQLite it must not take the write
        # lock (the app's engine begins IMMEDIATE); WAL lets it run beside the writer. On PostgreSQL it
        # runs in autocommit (no BEGIN/ROLLBACK round trips, no pre-ping) on one connection: a local
        # round trip is a fraction of a millisecond, and handing each read to a thread pool cost more
        # (GIL hand-offs) than it saved — p99 102-109 ms with 4 read threads, 53-62 ms inline, A/B in
        # one sitting (docs/BENCHMARKS.md, booking).
        self.reads = (
            create_engine(settings.database_url, connect_args={"check_same_thread": False, "timeout": 10})
            if settings.is_sqlite
            else create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=1)
        )
        # One group-commit writer per process: the lanes' (``web.lanes``), shared when they are in front.
        lanes = getattr(app.state, "lanes", None)
        self.writer: GroupCommitWriter = (
            lanes.writer
            if lanes is not None
            else GroupCommitWriter(app.state.sessions, WriterConfig.of(settings))
        )
        app.state.booking = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST":
            await self._book(scope, receive, send)
            return
        if scope["type"] == "lifespan":
            await self.inner(scope, self._watch_shutdown(receive), send)
            return
        await self.inner(scope, receive, send)

    def _watch_shutdown(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.close)
            return message

        return wrapped

    def close(self) -> None:
        """Stop the writer and let go of the read connections."""
        self.writer.stop()
        self.reads.dispose()

    async def _book(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw, complete = await _read_body(receive)
        auth = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        body: AppointmentCreate | None = None
        if complete and token:
            with contextlib.suppress(ValidationError):
                body = AppointmentCreate.model_validate_json(raw)
        if body is None or body.kind not in fast.FAST_KINDS:
            await self.inner(scope, _replay(raw, complete, receive), send)
            return
        try:
            attempt = self._check(token, body)
        except DomainError as err:
            await _problem(send, status_for(err), str(err.code), err.message, **err.data)
            return
        except (OverflowError, ValueError):  # a time at the ends of the calendar: the app's checks answer
            attempt = None
        if attempt is None:  # not a live customer session (the app answers 401 or 403), or odd input
            await self.inner(scope, _replay(raw, complete, receive), send)
            return
        result = await self.writer.submit(_store, attempt)
        if isinstance(result, BaseException):
            await _problem(send, 503, "booking-unavailable", "Booking failed for now; try again.")
        elif result is None:
            await _problem(send, 409, "capacity-exhausted", fast.FULL)
        else:
            payload = fast.read(attempt, result).model_dump_json().encode()
            await _reply(send, 201, payload, b"application/json")

    def _check(self, token: str, body: AppointmentCreate) -> fast.Attempt | None:
        now = utcnow()
        times = fast.requested_steps(body)
        with self.reads.connect() as conn:  # one statement: the session, the store and its holds
            store, taken, customer_id = fast.load_slot(
                conn, body.store_code, body.model, times, token=token, now=now
            )
            if store is None:  # no such store: whether to say 401 or 404 depends on the session
                customer_id = fast.customer_of(conn, token, now)
            if customer_id is None:
                return None
        attempt = fast.plan(body, customer_id=customer_id, store=store, now=now)
        fast.refuse_if_full(attempt, taken)
        return attempt


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body; ``complete`` is False if it ran past MAX_BODY (the rest is left unread)."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > MAX_BODY:
            return b"".join(chunks), False


def _replay(raw: bytes, complete: bool, receive: Receive) -> Receive:
    """A ``receive`` that hands the inner app the body already read, then the rest of the stream."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": not complete}
        return await receive()

    return replay


async def _problem(send: Send, status: int, code: str, detail: str, **extra: Any) -> None:
    body = {
        "type": PROBLEM_BASE + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": PATH,
        **extra,
    }
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    await _reply(send, status, payload, b"application/problem+json")


async def _reply(send: Send, status: int, payload: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})

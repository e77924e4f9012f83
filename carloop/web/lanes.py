"""The fast lanes: one group-commit writer and one lane table, in raw ASGI in front of the FastAPI app.

A lane is a path whose requests are gathered into batches and handed to the batched form of a use
case: reservations (``ordering.reservations.reserve_many``) and provider notifications
(``payments.captures.capture_many``). Each lane has one body reader (``read``: bytes and headers to
an item, or a domain error answered at once), a batched use case (``store``: run by the process's
one writer thread, many requests per transaction, replies only after the commit) and one renderer of
its successes (``answer``); every error leaves through ``web.problems`` like the app's own. Every
other path goes to the FastAPI app untouched. Settings come from ``app.state.settings`` and the
transaction from ``app.state.sessions``: a lane never reads the environment or makes an engine.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import identity as identities
from carloop.accounts import service as accounts
from carloop.accounts.realname import RealNameVerifier
from carloop.accounts.rules import safe_next
from carloop.db import make_read_engine
from carloop.errors import (
    AuthenticationFailed,
    DomainError,
    ErrorCode,
    NotFound,
    PaymentFailed,
    PolicyViolation,
)
from carloop.ordering import idempotency, reservations
from carloop.ordering.reservations import Reservation, ReservationRequest
from carloop.ordering.schemas import OrderCreate
from carloop.payments import captures
from carloop.payments.providers import ProviderSet, wechat_rules
from carloop.payments.providers.base import PaymentProvider
from carloop.payments.service import NotificationResult
from carloop.settings import Settings
from carloop.web import problems
from carloop.web.booking_lane import PATH as BOOKING_PATH
from carloop.web.booking_lane import BookingLane
from carloop.web.lane_types import (
    Answer,
    Lane,
    Later,
    Message,
    Pass,
    Receive,
    Request,
    Scope,
    Send,
    problem_answer,
)
from carloop.web.writer import Busy, GroupCommitWriter, WriterConfig

log = logging.getLogger("carloop.lanes")

RESERVE_PATH = "/api/v1/intake/orders"
NOTIFY_PREFIX = "/api/v1/payments/notify/"
HELLO_PATH = "/api/v1/intake/hello"
MAX_BODY = 16 * 1024
LATER_THREADS = 32  # reads finished Later at once per process (real-name checks wait on the provider)


# --- reservations -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refused:
    """A request refused before it could queue, answered after its token is checked (401 first)."""

    token: str
    error: DomainError


class ReservationLane:
    """``POST /api/v1/intake/orders``: Bearer session, ``Idempotency-Key``, ``OrderCreate`` JSON."""

    def __init__(self, app: FastAPI) -> None:
        self.provider: PaymentProvider = app.state.payment_provider
        self.identity_key = app.state.settings.secret_key.get_secret_value().encode()
        self.state = app.state  # the real-name verifier is read per request (app.state.realname_verifier)
        # The identity reads (session, binding) run beside the writer on a read engine: on SQLite they
        # never take the write lock (the app's engine begins IMMEDIATE), on PostgreSQL autocommit.
        self.reads = make_read_engine(app.state.settings)
        self.read_sessions: sessionmaker[Session] = sessionmaker(self.reads, expire_on_commit=False)

    def close(self) -> None:
        """Let go of the read connections."""
        self.reads.dispose()

    def read(self, request: Request) -> ReservationRequest | Refused | Later | DomainError:
        """Authenticate the header, validate and price the body; the session is checked in the batch.

        A body with an identity number is finished ``Later`` (off the event loop): the number is sent to
        the real-name verifier unless the account is already bound to it."""
        auth = request.headers.get(b"authorization", b"").decode("latin-1")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token or len(token) > 256:
            return AuthenticationFailed("Sign in first.")
        key = request.headers.get(b"idempotency-key", b"").decode("latin-1").strip()
        if not key or len(key) > idempotency.MAX_KEY_LENGTH:
            return Refused(
                token,
                PolicyViolation(
                    "An Idempotency-Key header (1-200 characters) is required.",
                    code=ErrorCode.VALIDATION_ERROR,
                ),
            )
        try:
            body = OrderCreate.model_validate_json(request.body)
        except ValidationError as err:
            return Refused(token, _invalid(err))
        if body.id_number:  # verified here, outside the writer; bound to the account in the batch
            return Later(lambda: self._identified(token, key, body))
        return self._item(token, key, body, None)

    def _identified(
        self, token: str, key: str, body: OrderCreate
    ) -> ReservationRequest | Refused | DomainError:
        assert body.id_number is not None
        try:  # the reads on the read engine, closed before the provider is asked: no connection held
            found = identities.identify_before_writing(
                sessions=self.read_sessions,
                token=token,
                name=body.real_name or "",
                id_number=body.id_number,
                verifier=self._verifier(),
                identity_key=self.identity_key,
            )
        except DomainError as err:
            return Refused(token, err)
        if found.principal is None:
            return AuthenticationFailed("Sign in first.")
        # staff (no identity): the batch refuses it as it refuses any staff token
        return self._item(token, key, body, found.identity_hash)

    def _verifier(self) -> RealNameVerifier:
        verifier: RealNameVerifier = self.state.realname_verifier
        return verifier

    def _item(
        self, token: str, key: str, body: OrderCreate, identity: str | None
    ) -> ReservationRequest | Refused:
        item = ReservationRequest(
            config=body.configuration,
            token=token,
            key=key,
            identity_hash=identity,
            request_hash=reservations.fingerprint(body.configuration, body.id_number),
        )
        try:
            reservations.price(item)
        except DomainError as err:
            return Refused(token, err)
        return item

    def store(
        self, session: Session, items: list[ReservationRequest | Refused], now: datetime
    ) -> list[Reservation | DomainError]:
        """Reserve the batch (``reserve_many``); a refused request says 401 if its token is not signed in."""
        results: list[Reservation | DomainError | None] = [None] * len(items)
        refused = [(i, r) for i, r in enumerate(items) if isinstance(r, Refused)]
        if refused:
            known = accounts.resolve_sessions(session=session, tokens={r.token for _, r in refused}, now=now)
            for i, r in refused:
                results[i] = r.error if r.token in known else AuthenticationFailed("Sign in first.")
        wanted = [(i, r) for i, r in enumerate(items) if isinstance(r, ReservationRequest)]
        made = reservations.reserve_many(
            session=session, provider=self.provider, requests=[r for _, r in wanted], now=now
        )
        for (i, _), result in zip(wanted, made, strict=True):
            results[i] = result
        return [r if r is not None else Busy("no result") for r in results]

    def answer(self, request: Request, made: Reservation) -> Answer:
        """201 with the order's number, place, edition number and where to pay (replays say so)."""
        body = orjson.dumps(
            {
                "number": made.number,
                "status": str(made.status),
                "model": made.model,
                "trim": made.trim,
                "queue_position": made.queue_position,
                "edition": made.edition,
                "edition_number": made.edition_number,
                "total_fen": made.total_fen,
                "deposit_fen": made.deposit_fen,
                "trade_no": made.trade_no,
                "pay_url": made.pay_url,
                "pay_by": made.pay_by.isoformat() if made.pay_by else None,
            }
        )
        headers: tuple[tuple[bytes, bytes], ...] = ((b"content-type", b"application/json"),)
        if made.replayed:
            headers += ((b"idempotent-replayed", b"true"),)
        return Answer(201, body, headers)


def _invalid(err: ValidationError) -> DomainError:
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in err.errors(include_url=False, include_context=False, include_input=False)
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return PolicyViolation("The body is not valid JSON.", code=ErrorCode.MALFORMED_BODY)
    fields = ", ".join(sorted({e["field"] for e in errors})) or "body"
    return PolicyViolation(f"Invalid input: {fields}.", code=ErrorCode.VALIDATION_ERROR, errors=errors)


# --- notifications ----------------------------------------------------------------------------


class NotificationLane:
    """``POST /api/v1/payments/notify/{provider}``: the provider's signed callback, captured in batches."""

    def __init__(self, app: FastAPI) -> None:
        self.provider: PaymentProvider = app.state.payment_provider
        self.handlers: captures.Handlers = app.state.capture_handlers
        self.lock_first: captures.LockFirst = app.state.lock_first

    def _named(self, name: str) -> PaymentProvider | None:
        if isinstance(self.provider, ProviderSet):
            return self.provider.get(name)
        return self.provider if name == self.provider.name else None

    def read(self, request: Request) -> tuple[str, dict[str, str]] | DomainError:
        """The provider's name and what its callback says (form fields; WeChat Pay: headers and body)."""
        name = request.path[len(NOTIFY_PREFIX) :]
        if self._named(name) is None:
            return NotFound(f"No payment provider {name!r} is configured.")
        if name == "wechat":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers.items()}
            try:
                return name, wechat_rules.callback_fields(headers, request.body)
            except PaymentFailed as err:
                return err
        try:
            fields = dict(
                parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            )
        except UnicodeDecodeError:
            fields = {}
        if not fields:
            return PaymentFailed("The notification has no form fields.")
        return name, fields

    def store(
        self, session: Session, items: list[tuple[str, dict[str, str]]], now: datetime
    ) -> list[NotificationResult | DomainError]:
        """Capture the batch (``capture_many``, per provider): verified, applied once, booked, settled."""
        results: list[NotificationResult | DomainError | None] = [None] * len(items)
        for name in dict.fromkeys(n for n, _ in items):
            provider = self._named(name)
            assert provider is not None  # read() let only configured providers through
            at = [i for i, (n, _) in enumerate(items) if n == name]
            done = captures.capture_many(
                session=session,
                provider=provider,
                forms=[items[i][1] for i in at],
                handlers=self.handlers,
                now=now,
                lock_first=self.lock_first,
            )
            for i, result in zip(at, done, strict=True):
                results[i] = result
        return [r for r in results if r is not None]

    def answer(self, request: Request, result: NotificationResult | None) -> Answer:
        """``success`` (the provider stops resending), or back to the buyer's page for the simulator."""
        del result
        back = safe_next(dict(parse_qsl(request.query)).get("return_to"), default="")
        if back:
            return Answer(303, b"", ((b"location", back.encode()),))
        return Answer(200, b"success", ((b"content-type", b"text/plain; charset=utf-8"),))


# --- the ASGI front ---------------------------------------------------------------------------


class LaneApp:
    """Raw ASGI: the lane table's paths through the one writer; everything else to the FastAPI app."""

    def __init__(self, app: FastAPI, config: WriterConfig | None = None, *, booking: bool = True) -> None:
        self.app = app
        settings: Settings = app.state.settings
        self.writer = GroupCommitWriter(app.state.sessions, config or WriterConfig.of(settings))
        self.reserve = reserve = ReservationLane(app)
        notify = NotificationLane(app)
        self.exact: dict[str, Lane[Any, Any]] = {
            RESERVE_PATH: Lane(reserve.read, reserve.store, reserve.answer),
        }
        self.booking = BookingLane(app) if booking else None
        if self.booking is not None:
            self.exact[BOOKING_PATH] = Lane(
                self.booking.read, self.booking.store, self.booking.answer, shared=True
            )
        self.notify = Lane(notify.read, notify.store, notify.answer)
        # Reads that wait on the database or a provider (real-name checks): their own threads, so a
        # slow provider neither blocks the event loop nor starves asyncio's small default executor.
        self.waiting = ThreadPoolExecutor(max_workers=LATER_THREADS, thread_name_prefix="lane-later")
        app.state.lanes = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            lane = self.exact.get(path) or (self.notify if path.startswith(NOTIFY_PREFIX) else None)
            if lane is not None:
                await self._serve(lane, scope, receive, send)
                return
            if path == HELLO_PATH:
                await _reply(send, Answer(200, b'{"ok":true}'))
                return
        elif scope["type"] == "lifespan":
            await self.app(scope, self._watch_shutdown(receive), send)
            return
        await self.app(scope, receive, send)

    def close(self) -> None:
        """Stop the writer (after it stored what was queued) and let go of the booking reads."""
        self.writer.stop()
        self.waiting.shutdown(wait=False)
        self.reserve.close()
        if self.booking is not None:
            self.booking.close()

    def _watch_shutdown(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.close)
            return message

        return wrapped

    async def _serve(self, lane: Lane[Any, Any], scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if scope["method"] != "POST":
            if lane.shared:
                await self.app(scope, receive, send)
            else:
                await _reply(send, _method_not_allowed(path))
            return
        if self.writer.overloaded():
            await _reply(send, problem_answer(Busy("The queue is full; retry with the same key."), path))
            return
        raw, more = await _read_body(receive)
        if more or len(raw) > MAX_BODY:
            if lane.shared:  # the app's own body limit answers it
                await self.app(scope, _replay(raw, more, receive), send)
            else:
                await _reply(send, _too_large(path))
            return
        request = Request(path, scope.get("query_string", b"").decode("latin-1"), dict(scope["headers"]), raw)
        item = lane.read(request)
        if isinstance(item, Later):
            item = await asyncio.get_running_loop().run_in_executor(self.waiting, item.finish)
        if isinstance(item, Pass):
            await self.app(scope, _replay(raw, more, receive), send)
            return
        if isinstance(item, DomainError):
            await _reply(send, problem_answer(item, path))
            return
        result = await self.writer.submit(lane.store, item)
        if isinstance(result, PaymentFailed) and result.data.get("final") is False:
            result = None  # a genuine but non-final status: acknowledged so the provider stops resending
        if isinstance(result, DomainError):
            await _reply(send, problem_answer(result, path))
            return
        await _reply(send, lane.answer(request, result))


def _method_not_allowed(path: str) -> Answer:
    body = problems.problem_body(405, "method-not-allowed", "Use POST.", instance=path)
    return Answer(
        405, orjson.dumps(body), ((b"content-type", b"application/problem+json"), (b"allow", b"POST"))
    )


def _too_large(path: str) -> Answer:
    body = problems.problem_body(413, "too-large", "The body is larger than 16 KiB.", instance=path)
    return Answer(413, orjson.dumps(body), ((b"content-type", b"application/problem+json"),))


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The body read so far and whether more of it is left unread (reading stops past MAX_BODY)."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False
        if size > MAX_BODY:
            return b"".join(chunks), True


def _replay(raw: bytes, more: bool, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the rest of the stream."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": more}
        return await receive()

    return replay


async def _reply(send: Send, answer: Answer) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [*answer.headers, (b"content-length", str(len(answer.body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": answer.body})

"""The lean intake route, mounted in front of the FastAPI app in the same process.

``POST /api/v1/intake/orders`` (Bearer session, ``Idempotency-Key`` required, JSON body
``{"configuration": {...}, "id_number": "..."}``) and ``GET /api/v1/intake/hello`` are answered
here in raw ASGI; every other request goes to the FastAPI app untouched. Serve it with
``uvicorn carloop.ordering.intake.asgi:create --factory``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from carloop.accounts import service as accounts
from carloop.ordering import idempotency
from carloop.ordering.intake.prepare import IntakeOrderCreate, prepare_ticket, problem
from carloop.ordering.intake.store import PATH, Outcome, Ticket
from carloop.ordering.intake.writer import GroupCommitWriter, WriterConfig, busy_outcome
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.settings import Settings
from carloop.web.app import create_app

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HELLO_PATH = "/api/v1/intake/hello"
MAX_BODY = 16 * 1024
_JSON = [(b"content-type", b"application/json")]
_PROBLEM = [(b"content-type", b"application/problem+json")]


def writer_config_from_env() -> WriterConfig:
    """Group-commit knobs from ``CARLOOP_INTAKE_MAX_BATCH``, ``_MAX_WAIT_MS`` and ``_MAX_PENDING``."""
    env = os.environ
    return WriterConfig(
        max_batch=int(env.get("CARLOOP_INTAKE_MAX_BATCH", "500")),
        max_wait=float(env.get("CARLOOP_INTAKE_MAX_WAIT_MS", "2")) / 1000,
        max_pending=int(env.get("CARLOOP_INTAKE_MAX_PENDING", "2048")),
    )


class IntakeApp:
    """Raw ASGI in front of the FastAPI app: the intake and hello routes, everything else passed on."""

    def __init__(self, app: FastAPI, writer_config: WriterConfig | None = None) -> None:
        self.app = app
        settings: Settings = app.state.settings
        provider = app.state.payment_provider
        self.provider = provider if isinstance(provider, SimulatorProvider) else None
        self.writer = (
            GroupCommitWriter(app.state.sessions, self.provider, writer_config or writer_config_from_env())
            if self.provider is not None
            else None
        )
        self._identity_key = settings.secret_key.get_secret_value().encode()
        # Tokens are resolved in the group commit, a batch per query, in the batch's transaction, so a
        # signed-out token stops working at once. Only a request refused before it queues (a bad body)
        # looks its token up alone, so that 401 still comes before 422. On SQLite that read must not
        # take the write lock (BEGIN IMMEDIATE) that the app's engine takes.
        self._reads = (
            sessionmaker(create_engine(settings.database_url, connect_args={"check_same_thread": False}))
            if settings.is_sqlite
            else app.state.sessions
        )
        app.state.intake = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == PATH:
                await self._orders(scope, receive, send)
                return
            if path == HELLO_PATH:
                await _reply(send, 200, b'{"ok":true}', _JSON)
                return
        elif scope["type"] == "lifespan":
            await self.app(scope, self._watch_shutdown(receive), send)
            return
        await self.app(scope, receive, send)

    def _watch_shutdown(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self.writer is not None:
                await asyncio.get_running_loop().run_in_executor(None, self.writer.stop)
            return message

        return wrapped

    async def _signed_in(self, token: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, self._resolve, token)

    def _resolve(self, token: str) -> bool:
        with self._reads() as session:
            principal = accounts.resolve_session(session=session, token=token)
        return principal is not None and principal.customer_id is not None

    def prepare(self, *, body: IntakeOrderCreate, token: str, key: str) -> Ticket | Outcome:
        """Validate a reservation for this app (its identity key); a ticket or a 422.

        The buyer behind ``token`` is resolved when the ticket's batch is stored.
        """
        return prepare_ticket(
            body=body, customer_id=0, actor="", key=key, identity_key=self._identity_key, token=token
        )

    async def _orders(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _send_outcome(send, problem(405, "method-not-allowed", "Use POST."))
            return
        if self.writer is None:
            await _send_outcome(
                send, problem(503, "intake-unavailable", "The launch intake needs the payment simulator.")
            )
            return
        if self.writer.overloaded():
            await _send_outcome(send, busy_outcome())
            return
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token or len(token) > 256:
            await _send_outcome(send, problem(401, "authentication-failed", "Sign in first."))
            return
        key = headers.get(b"idempotency-key", b"").decode("latin-1").strip()
        refused: Ticket | Outcome
        if not key or len(key) > idempotency.MAX_KEY_LENGTH:
            refused = problem(
                422, "validation-error", "An Idempotency-Key header (1-200 characters) is required."
            )
        else:
            raw = await _read_body(receive)
            if raw is None:
                refused = problem(413, "too-large", "The body is larger than 16 KiB.")
            else:
                refused = self._parse(raw, token, key)
        # Refused before it queues: the token is looked up alone, so a stranger gets 401, not 422.
        if isinstance(refused, Outcome) and not await self._signed_in(token):
            refused = problem(401, "authentication-failed", "Sign in first.")
        if isinstance(refused, Outcome):
            await _send_outcome(send, refused)
            return
        outcome = await self.writer.submit(refused)
        await _send_outcome(send, outcome)

    def _parse(self, raw: bytes, token: str, key: str) -> Ticket | Outcome:
        try:
            body = IntakeOrderCreate.model_validate_json(raw)
        except ValidationError as err:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
                for e in err.errors()
            ]
            if any(e["type"] == "json_invalid" for e in errors):
                return problem(400, "malformed-body", "The body is not valid JSON.")
            fields = ", ".join(sorted({e["field"] for e in errors}))
            return problem(422, "validation-error", f"Invalid input: {fields}.", errors=errors)
        return self.prepare(body=body, token=token, key=key)


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_outcome(send: Send, outcome: Outcome) -> None:
    headers = list(_JSON if outcome.status < 400 else _PROBLEM)
    if outcome.replayed:
        headers.append((b"idempotent-replayed", b"true"))
    if outcome.status == 503:
        headers.append((b"retry-after", b"1"))
    await _reply(send, outcome.status, orjson.dumps(outcome.body), headers)


async def _reply(send: Send, status: int, payload: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def create() -> IntakeApp:
    """The whole app with the intake in front, from the environment's CARLOOP_* settings."""
    return IntakeApp(create_app(Settings()))

"""The lean intake route, mounted in front of the FastAPI app in the same process.

``POST /api/v1/intake/orders`` (Bearer session, ``Idempotency-Key`` required, JSON body
``{"configuration": {...}, "id_number": "..."}``) and ``GET /api/v1/intake/hello`` are answered
here in raw ASGI; every other request goes to the FastAPI app untouched. Serve it with
``uvicorn carloop.ordering.intake.asgi:create --factory``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

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
TOKEN_TTL = 30.0  # seconds a resolved session token is trusted before it is looked up again
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
        self._tokens: dict[str, tuple[float, int, str]] = {}
        # Session look-ups only read: on SQLite they must not take the write lock (BEGIN IMMEDIATE)
        # that the app's engine takes, or every cache miss would stall the group commit.
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

    async def _principal(self, token: str) -> tuple[int, str] | None:
        now = time.monotonic()
        cached = self._tokens.get(token)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        principal = await asyncio.get_running_loop().run_in_executor(None, self._resolve, token)
        if principal is None:
            return None
        if len(self._tokens) > 100_000:
            self._tokens.clear()
        self._tokens[token] = (now + TOKEN_TTL, principal[0], principal[1])
        return principal

    def _resolve(self, token: str) -> tuple[int, str] | None:
        with self._reads() as session:
            principal = accounts.resolve_session(session=session, token=token)
        if principal is None or principal.customer_id is None:
            return None
        return principal.customer_id, principal.actor

    def prepare(self, *, body: IntakeOrderCreate, customer_id: int, actor: str, key: str) -> Ticket | Outcome:
        """Validate a reservation for this app (its identity key); a ticket or a 422."""
        return prepare_ticket(
            body=body, customer_id=customer_id, actor=actor, key=key, identity_key=self._identity_key
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
        who = await self._principal(token) if token else None
        if who is None:
            await _send_outcome(send, problem(401, "authentication-failed", "Sign in first."))
            return
        key = headers.get(b"idempotency-key", b"").decode("latin-1").strip()
        if not key or len(key) > idempotency.MAX_KEY_LENGTH:
            await _send_outcome(
                send,
                problem(422, "validation-error", "An Idempotency-Key header (1-200 characters) is required."),
            )
            return
        raw = await _read_body(receive)
        if raw is None:
            await _send_outcome(send, problem(413, "too-large", "The body is larger than 16 KiB."))
            return
        try:
            body = IntakeOrderCreate.model_validate_json(raw)
        except ValidationError as err:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
                for e in err.errors()
            ]
            if any(e["type"] == "json_invalid" for e in errors):
                await _send_outcome(send, problem(400, "malformed-body", "The body is not valid JSON."))
                return
            fields = ", ".join(sorted({e["field"] for e in errors}))
            await _send_outcome(
                send, problem(422, "validation-error", f"Invalid input: {fields}.", errors=errors)
            )
            return
        prepared = self.prepare(body=body, customer_id=who[0], actor=who[1], key=key)
        if isinstance(prepared, Outcome):
            await _send_outcome(send, prepared)
            return
        outcome = await self.writer.submit(prepared)
        await _send_outcome(send, outcome)


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
    await _reply(send, outcome.status, json.dumps(outcome.body, separators=(",", ":")).encode(), headers)


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

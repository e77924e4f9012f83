"""The rows of the lane table (``web.lanes``): what a lane reads, how it answers, and the ASGI types.

A lane has one body reader (``read``: a ``Request`` to an item, a domain error answered at once,
``Later`` to finish on a worker thread, or ``Pass`` to hand the request to the FastAPI app), a batched
use case (``store``, run by the group-commit writer) and one renderer of its successes (``answer``);
errors leave through ``web.problems`` like the app's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from carloop.errors import DomainError
from carloop.web import problems
from carloop.web.writer import Busy, Store

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

T = TypeVar("T")
R = TypeVar("R")


# --- answers ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer of a lane: status, headers and body bytes."""

    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ((b"content-type", b"application/json"),)


def problem_answer(err: DomainError, instance: str) -> Answer:
    """A domain error as the app renders it: RFC 9457 problem+json through ``web.problems``."""
    status = 503 if isinstance(err, Busy) else problems.status_for(err)
    code = "overloaded" if isinstance(err, Busy) else str(err.code)
    body = problems.problem_body(status, code, err.message, instance=instance, **err.data)
    headers: tuple[tuple[bytes, bytes], ...] = ((b"content-type", b"application/problem+json"),)
    if status == 503:
        headers += ((b"retry-after", str(err.data.get("retry_after", 1)).encode()),)
    return Answer(status, orjson.dumps(body), headers)


@dataclass(frozen=True, slots=True)
class Request:
    """What a lane's reader gets: the path, the headers (lower-case names) and the whole body."""

    path: str
    query: str
    headers: Mapping[bytes, bytes]
    body: bytes


@dataclass(frozen=True, slots=True)
class Later:
    """A read that has to wait on the database or a provider: finished on a worker thread."""

    finish: Callable[[], Any]


@dataclass(frozen=True, slots=True)
class Pass:
    """A request the lane leaves to the FastAPI app (its body is replayed to it)."""


@dataclass(frozen=True, slots=True)
class Lane(Generic[T, R]):
    """One row of the lane table: how to read a request, the batched use case, how to answer.

    A ``shared`` lane shares its path with app routes: other methods, and what it ``Pass``es, go there."""

    read: Callable[[Request], T | DomainError | Later | Pass]
    store: Store
    answer: Callable[[Request, R], Answer]
    shared: bool = False

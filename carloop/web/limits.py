"""Bounds on what a request may carry: ids that fit a 64-bit column, days within the calendar the
business uses, no NUL, and a body size limit.

Both are enforced once, for every route in the route table, so a route added tomorrow is bounded
without anyone remembering to:

- ``bounded_ids`` is an app-wide dependency. Any path or query parameter a route declares as ``int``
  must fit the signed 64-bit ``BigId`` columns; a path id outside that range names nothing (404), a
  query number outside it is invalid input (422). Without it the database driver raises on binding
  the value (``OverflowError`` on SQLite, ``NumericValueOutOfRange`` on PostgreSQL) and the caller
  gets a 500. A query date (or datetime) outside ``clock.FIRST_DAY`` .. ``clock.LAST_DAY`` is invalid
  input (422) the same way: 0001-01-01 or 9999-12-31 overflow when their midnight is moved to UTC.
- ``BodyLimit`` is an ASGI middleware in front of everything served (lanes included). A declared
  ``Content-Length`` over the limit is refused before the app runs; a chunked body is counted as it
  is read and refused the moment it passes the limit. Either way the answer is a 413 problem.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carloop.clock import FIRST_DAY, LAST_DAY
from carloop.errors import NotFound, PolicyViolation

ID_MIN = -(2**63)
ID_MAX = 2**63 - 1  # the largest value a BigId (BIGINT / SQLite INTEGER) column holds
TOO_LARGE = "The request body is larger than this server accepts."


def _is(annotation: Any, kinds: tuple[type, ...]) -> bool:
    return annotation in kinds or any(a in kinds for a in getattr(annotation, "__args__", ()))


def _params(fields: list[Any], *kinds: type) -> tuple[str, ...]:
    names: list[str] = []
    for field in fields:
        annotation = getattr(field.field_info, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):  # a model of query parameters
            names.extend(f.alias or n for n, f in annotation.model_fields.items() if _is(f.annotation, kinds))
        elif _is(annotation, kinds):
            names.append(field.alias or field.name)
    return tuple(names)


Names = tuple[str, ...]
_PARAMS: dict[int, tuple[Names, Names, Names]] = {}  # by id(dependant); routes live forever


def _params_of(dependant: Dependant) -> tuple[Names, Names, Names]:
    """(path, query) parameter names declared as ``int``, and query parameter names declared as a date
    or a datetime, by the endpoint or its dependencies."""
    found = _PARAMS.get(id(dependant))
    if found is not None:
        return found
    path: list[Any] = []
    query: list[Any] = []

    def walk(d: Dependant) -> None:
        path.extend(d.path_params)
        query.extend(d.query_params)
        for sub in d.dependencies:
            walk(sub)

    walk(dependant)
    found = _PARAMS[id(dependant)] = (
        _params(path, int),
        _params(query, int),
        _params(query, date, datetime),
    )
    return found


def _out_of_range(raw: str) -> bool:
    try:
        value = int(raw.strip())
    except ValueError:
        return False  # not a number at all: the route's own validation answers 422
    return not ID_MIN <= value <= ID_MAX


def _day_out_of_range(raw: str) -> bool:
    try:
        day = date.fromisoformat(raw.strip()[:10])
    except ValueError:
        return False  # not a date (or not one written this way): the route's own validation answers
    return not FIRST_DAY <= day <= LAST_DAY


async def bounded_ids(request: Request) -> None:
    """Refuse integer path ids (404) and query numbers (422) that no 64-bit column can hold, and query
    dates outside the business's calendar (422).

    A NUL character is refused the same way in any path or query value: no name or number holds
    one, and PostgreSQL text columns cannot store it (the driver raises instead of finding nothing).
    """
    for name, raw in request.path_params.items():
        if isinstance(raw, str) and "\x00" in raw:
            raise NotFound("There is nothing with this id.", field=name)
    for name, raw in request.query_params.multi_items():
        if "\x00" in raw:
            raise PolicyViolation("This value contains a character that is not allowed.", field=name[:40])
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    path_names, query_names, day_names = _params_of(dependant)
    for name in path_names:
        raw = request.path_params.get(name)
        if isinstance(raw, str) and _out_of_range(raw):
            raise NotFound("There is nothing with this id.", field=name)
    for name in query_names:
        for raw in request.query_params.getlist(name):
            if _out_of_range(raw):
                raise PolicyViolation("This number is out of range.", field=name)
    for name in day_names:
        for raw in request.query_params.getlist(name):
            if _day_out_of_range(raw):
                raise PolicyViolation("This date is out of range.", field=name)


class BodyLimit:
    """ASGI middleware: refuse request bodies larger than ``max_bytes`` with a 413 problem."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(scope, receive, send, self.max_bytes)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Inside the app this is an ordinary HTTP error: the problem handler answers it.
                    raise HTTPException(413, TOO_LARGE)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as exc:  # raised where no handler sits (a lane reading the body itself)
            if exc.status_code != 413 or started:
                raise
            await _refuse(scope, receive, send, self.max_bytes)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
    body = json.dumps(
        {
            "type": "https://carloop.dev/problems/body-too-large",
            "title": "Content Too Large",
            "status": 413,
            "detail": TOO_LARGE,
            "code": "body-too-large",
            "instance": scope.get("path", ""),
            "max_bytes": max_bytes,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

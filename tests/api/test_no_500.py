"""No request, however malformed, gets a 500: every route in the route table is hit with broken input
(oversized ids, wrong types, huge and odd bodies, odd encodings), signed in or not.

The routes come from FastAPI's own route table (``iter_route_contexts``: routers are included lazily,
so ``app.routes`` alone lists only the app's own few routes), so a route added tomorrow is fuzzed the
moment it exists. Every refusal on an API path is a problem+json body without a stack trace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from annotated_types import Ge, Gt, Le, Lt
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import (
    AwareDatetime,
    BaseModel,
    FutureDate,
    FutureDatetime,
    NaiveDatetime,
    PastDate,
    PastDatetime,
)

from carloop.clock import FIRST_DAY, FIRST_MOMENT, LAST_DAY, LAST_MOMENT
from carloop.web.limits import ID_MAX, ID_MIN

BODIES: list[tuple[str, str | bytes]] = [
    ("application/json", ""),
    ("application/json", "{"),
    ("application/json", "[]"),
    ("application/json", "null"),
    ("application/json", '{"configuration": {"model": "\\u0000", "trim": "' + "x" * 5000 + '"}}'),
    ("application/json", '{"id": 99999999999999999999999999, "store_id": -1e400, "amount_fen": "NaN"}'),
    ("application/json", b"\xff\xfe\x00garbage"),
    ("application/json", '"\\ud800"'),  # a lone surrogate
    ("application/json", "[" * 5000 + "]" * 5000),  # deep nesting
    ("application/x-www-form-urlencoded", "a=%ZZ&&==&csrf_token=%FF%FE"),
    ("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data\r\n\r\n--"),
    ("text/plain", "hello"),
]
# Path values: beyond 64 bits either way, wrong types, traversal, NUL, non-ASCII, very long.
PATH_VALUES = [
    str(2**63),
    "-" + "9" * 30,
    "1e309",
    "x",
    "%00",
    "SU7-" + "9" * 300,
    "..%2F..%2Fetc%2Fpasswd",
    "订单",
    "%F0%9F%9A%97",
]
QUERY = "?id=99999999999999999999&store_id=99999999999999999999&limit=-1&before_id=1e400&lang=%ZZ"


def route_table(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route the app serves, however its routers were included."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI lists flat routes
        contexts: Any = [r for r in app.routes if isinstance(r, APIRoute)]
    else:
        contexts = [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]
    for context in contexts:
        for method in sorted((context.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, context.path


def _sign_in(client: TestClient) -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": "13800138000"}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": "13800138000", "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_the_route_table_is_walked_whole(client: TestClient) -> None:
    paths = {path for _, path in route_table(client.app.fastapi)}  # type: ignore[arg-type]
    assert len(paths) > 100
    assert {
        "/api/v1/orders/{number}",
        "/api/v1/production/eta",
        "/community/suggestions/{suggestion_id}",
    } <= paths


def _assert_no_500(response: Any, method: str, path: str, body: object = "") -> None:
    assert response.status_code < 500, (method, path, body, response.text[:300])
    if response.status_code >= 400 and path.startswith("/api/"):
        assert response.headers["content-type"].startswith("application/problem+json"), path
        assert "Traceback" not in response.text


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "customer"])
def test_broken_requests_never_get_a_500(client: TestClient, signed_in: bool) -> None:
    headers = _sign_in(client) if signed_in else {}
    json = {**headers, "Content-Type": "application/json"}
    for method, template in route_table(client.app.fastapi):  # type: ignore[arg-type]
        # Every odd path value (with odd query numbers), then every odd body on a plain path.
        for value in PATH_VALUES:
            path = re.sub(r"\{[^}]+\}", value, template)
            response = client.request(method, path + QUERY, content="{}", headers=json)
            _assert_no_500(response, method, path)
        if method == "GET":
            continue
        path = re.sub(r"\{[^}]+\}", "1", template)
        for content_type, body in BODIES:
            response = client.request(
                method, path, content=body, headers={**headers, "Content-Type": content_type}
            )
            _assert_no_500(response, method, path, body)


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "customer"])
def test_a_huge_body_on_any_route_is_a_413_problem(client: TestClient, signed_in: bool) -> None:
    headers = _sign_in(client) if signed_in else {}
    huge = b"{" + b" " * client.app.state.settings.max_body_bytes + b"}"  # type: ignore[attr-defined]
    for method, template in route_table(client.app.fastapi):  # type: ignore[arg-type]
        if method == "GET":
            continue
        path = re.sub(r"\{[^}]+\}", "1", template)
        response = client.request(
            method, path, content=huge, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 413, (method, path, response.status_code)
        assert response.headers["content-type"].startswith("application/problem+json"), path


def _leaves(annotation: Any, metadata: list[Any], where: str) -> Iterator[tuple[Any, list[Any], str]]:
    """Each plain type a body field's or a form field's ``annotation`` takes, with the constraints
    (``metadata``) that bind it: a model's fields are walked, ``int | None`` keeps its constraints, a
    list's or a dict's items have their own."""
    if get_origin(annotation) is Annotated:
        inner, *extra = get_args(annotation)
        found = [m for e in extra for m in (getattr(e, "metadata", None) or [e])]
        yield from _leaves(inner, metadata + found, where)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            yield from _leaves(field.annotation, list(field.metadata), f"{where}.{name}")
    elif get_args(annotation):
        keep = metadata if get_origin(annotation) in (Union, UnionType) else []
        for arg in get_args(annotation):
            yield from _leaves(arg, keep, where)
    else:
        yield annotation, metadata, where


def _body_leaves() -> Iterator[tuple[Any, list[Any], str]]:
    """Every plain type any route's JSON body or page form takes (its dependencies' included)."""
    from fastapi.routing import iter_route_contexts

    from carloop.settings import Settings
    from carloop.web.app import create_app

    app = create_app(Settings(environment="test", database_url="sqlite://", otp_sender="page"))
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        todo = [context.dependant]
        while todo:
            dependant = todo.pop()
            todo.extend(dependant.dependencies)
            for param in dependant.body_params:
                info = param.field_info
                yield from _leaves(info.annotation, list(info.metadata), f"{context.path} {param.name}")


def _low_high(metadata: list[Any], step: Any) -> tuple[list[Any], list[Any]]:
    low = [m.gt + step if isinstance(m, Gt) else m.ge for m in metadata if isinstance(m, Gt | Ge)]
    high = [m.lt - step if isinstance(m, Lt) else m.le for m in metadata if isinstance(m, Lt | Le)]
    return low, high


def test_every_integer_a_body_or_form_takes_fits_64_bits() -> None:
    """Path and query ids are bounded for every route (``carloop.web.limits.bounded_ids``); an id or an
    amount in a body must say its own bounds, or 2**63 reaches the database driver (a 500)."""
    unbounded: set[str] = set()
    for annotation, metadata, where in _body_leaves():
        if annotation is int:
            low, high = _low_high(metadata, 1)
            if not (low and high and max(low) >= ID_MIN and min(high) <= ID_MAX):
                unbounded.add(where)
    assert not unbounded, "declare gt/ge and lt/le (within 64 bits) on:\n" + "\n".join(sorted(unbounded))


DAYS = (date, PastDate, FutureDate)
MOMENTS = (datetime, AwareDatetime, NaiveDatetime, PastDatetime, FutureDatetime)


def test_every_date_a_body_or_form_takes_lies_within_the_calendar() -> None:
    """Query dates are bounded for every route (``bounded_ids``: ``clock.FIRST_DAY`` .. ``LAST_DAY``); a
    date or a datetime in a body or a form must say the same bounds (``FIRST_MOMENT`` .. ``LAST_MOMENT``),
    or 0001-01-01 moved to UTC overflows Python's dates (a 500)."""
    unbounded: set[str] = set()
    for annotation, metadata, where in _body_leaves():
        if annotation in DAYS or annotation in MOMENTS:
            first, last = (FIRST_DAY, LAST_DAY) if annotation in DAYS else (FIRST_MOMENT, LAST_MOMENT)
            low, high = _low_high(metadata, timedelta(0))
            if not (
                low
                and high
                and all(type(b) is type(first) for b in low + high)
                and max(low) >= first
                and min(high) <= last
            ):
                unbounded.add(f"{where} ({getattr(annotation, '__name__', annotation)})")
    assert not unbounded, (
        "declare ge=FIRST_DAY, le=LAST_DAY (a datetime: FIRST_MOMENT, LAST_MOMENT) from carloop.clock on:\n"
        + "\n".join(sorted(unbounded))
    )

"""Every API route authorises: anonymous callers get 401, customers on staff routes get 403.

The test walks the app's routes, so a new route is covered the moment it is added. A route that
is meant to be open to anyone must be listed in PUBLIC, where a reviewer can see it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.deps import require_customer, require_principal, require_staff

API = "/api/v1"

# (method, path) of API routes anyone may call without signing in.
PUBLIC = {
    ("POST", "/api/v1/auth/code"),
    ("POST", "/api/v1/auth/sign-in"),
    ("POST", "/api/v1/auth/staff/sign-in"),
    ("GET", "/api/v1/campaigns/{slug}/countdown"),  # the countdown before a reveal: no price in it
    ("POST", "/api/v1/campaigns/{slug}/registrations/code"),  # visitors prove a phone (limited)
    ("POST", "/api/v1/campaigns/{slug}/registrations"),  # by code, or the signed-in buyer's phone
    ("GET", "/api/v1/catalog"),
    ("GET", "/api/v1/catalog/models/{model}"),
    ("POST", "/api/v1/catalog/price"),
    ("POST", "/api/v1/payments/notify/{provider_name}"),  # providers authenticate by signature
    ("POST", "/api/v1/payments/refunds/notify/{provider_name}"),  # WeChat Pay signs refund callbacks
    ("GET", "/api/v1/production/eta"),  # the delivery estimate shown before anyone commits
    ("POST", "/api/v1/production/eta"),
    ("GET", "/api/v1/supplier/forecast"),  # suppliers' systems sign each request with their key (HMAC)
    ("POST", "/api/v1/supplier/confirmations"),
    ("POST", "/api/v1/supplier/shortages"),
    ("GET", "/api/v1/stores"),  # the store finder: anonymous buyers look for a store near them
    ("GET", "/api/v1/stores/{code}"),
    ("GET", "/api/v1/stores/{code}/slots"),  # free slots; booking one needs a signed-in buyer
}


def _api_routes(app: FastAPI) -> Iterator[tuple[str, str, Dependant]]:
    """(method, full path, dependant) of every API route, however the routers were included."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI's lazily included routers
    except ImportError:  # pragma: no cover - older FastAPI lists flat routes
        contexts: Any = [r for r in app.routes if isinstance(r, APIRoute)]
    else:
        contexts = [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]
    for context in contexts:
        if not context.path.startswith(API + "/"):
            continue
        for method in sorted(context.methods or ()):
            yield method, context.path, context.dependant


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _needs(dependant: Dependant, guard: Any) -> bool:
    return guard in set(_calls(dependant))


def _settings() -> Settings:
    return Settings(environment="test", database_url="sqlite://", otp_sender="page")


ROUTES = sorted(_api_routes(create_app(_settings())), key=lambda r: (r[1], r[0]))
PRIVATE = [r for r in ROUTES if (r[0], r[1]) not in PUBLIC]
STAFF_ONLY = [r for r in PRIVATE if _needs(r[2], require_staff)]


def _ids(routes: list[tuple[str, str, Dependant]]) -> list[str]:
    return [f"{method} {path}" for method, path, _ in routes]


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _call(client: TestClient, method: str, path: str, headers: dict[str, str] | None = None) -> Any:
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return client.request(method, _url(path), **kwargs)


@pytest.fixture
def customer(client: TestClient) -> dict[str, str]:
    """A signed-in customer's headers."""
    code = client.post("/api/v1/auth/code", json={"phone": "13800138000"}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": "13800138000", "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_public_routes_exist() -> None:
    listed = {(method, path) for method, path, _ in ROUTES}
    assert listed >= PUBLIC, f"PUBLIC lists routes the app does not have: {sorted(PUBLIC - listed)}"


def test_every_private_route_depends_on_a_signed_in_principal() -> None:
    guards = (require_principal, require_customer, require_staff)
    unguarded = [f"{m} {p}" for m, p, d in PRIVATE if not any(_needs(d, g) for g in guards)]
    assert unguarded == [], "routes without an auth dependency; guard them or add them to PUBLIC"


@pytest.mark.parametrize(("method", "path", "dependant"), PRIVATE, ids=_ids(PRIVATE))
def test_anonymous_calls_get_401(client: TestClient, method: str, path: str, dependant: Dependant) -> None:
    response = _call(client, method, path)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("method", "path", "dependant"), PRIVATE, ids=_ids(PRIVATE))
def test_a_bogus_token_is_anonymous(client: TestClient, method: str, path: str, dependant: Dependant) -> None:
    response = _call(client, method, path, {"Authorization": "Bearer not-a-real-token"})
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(("method", "path", "dependant"), STAFF_ONLY, ids=_ids(STAFF_ONLY))
def test_customers_on_staff_routes_get_403(
    client: TestClient, customer: dict[str, str], method: str, path: str, dependant: Dependant
) -> None:
    response = _call(client, method, path, customer)
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "permission-denied"


def test_the_walk_found_the_staff_routes() -> None:
    assert ("GET", "/api/v1/staff") in {(m, p) for m, p, _ in STAFF_ONLY}
    assert ("GET", "/api/v1/me") in {(m, p) for m, p, _ in PRIVATE}

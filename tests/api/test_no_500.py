"""No request, however malformed, gets a 500: every route is hit with broken input, signed in or not."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

BODIES: list[tuple[str, str | bytes]] = [
    ("application/json", ""),
    ("application/json", "{"),
    ("application/json", "[]"),
    ("application/json", "null"),
    ("application/json", '{"configuration": {"model": "\\u0000", "trim": "' + "x" * 5000 + '"}}'),
    ("application/json", b"\xff\xfe\x00garbage"),
    ("application/x-www-form-urlencoded", "a=%ZZ&&=="),
    ("text/plain", "hello"),
]
PATH_VALUES = ["x", "%00", "SU7-" + "9" * 300, "../../etc/passwd", "订单"]


def _sign_in(client: TestClient) -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": "13800138000"}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": "13800138000", "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "customer"])
def test_broken_requests_never_get_a_500(client: TestClient, signed_in: bool) -> None:
    headers = _sign_in(client) if signed_in else {}
    routes = [r for r in client.app.routes if isinstance(r, APIRoute)]  # type: ignore[attr-defined]
    assert routes
    for route in routes:
        for method in route.methods - {"HEAD", "OPTIONS"}:
            for value in PATH_VALUES:
                path = re.sub(r"\{[^}]+\}", value, route.path)
                for content_type, body in BODIES if method != "GET" else [("application/json", "")]:
                    response = client.request(
                        method, path, content=body, headers={**headers, "Content-Type": content_type}
                    )
                    assert response.status_code < 500, (method, path, body, response.text[:300])
                    if response.status_code >= 400 and path.startswith("/api/"):
                        assert response.headers["content-type"].startswith("application/problem+json"), path
                        assert "Traceback" not in response.text

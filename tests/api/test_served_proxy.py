"""The served stack (granian has no proxy flag) believes X-Forwarded-For only from the trusted proxies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from carloop.web.asgi import Served


def _through(served: Served, client: str, forwarded: str) -> tuple[str, int]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/intake/hello",
        "query_string": b"",
        "headers": [(b"host", b"x"), (b"x-forwarded-for", forwarded.encode())],
        "client": (client, 40000),
        "scheme": "http",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(served(scope, receive, send))
    return scope["client"][0], sent[0]["status"]


@pytest.mark.parametrize(
    ("trusted", "client", "seen"),
    [
        ("127.0.0.1", "127.0.0.1", "203.0.113.9"),  # the local proxy tells who called
        ("127.0.0.1", "198.51.100.7", "198.51.100.7"),  # anyone else cannot pretend to be someone else
        ("", "127.0.0.1", "127.0.0.1"),  # no proxy trusted
    ],
)
def test_the_client_address_comes_from_a_trusted_proxy_only(
    app: Any, trusted: str, client: str, seen: str
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"forwarded_allow_ips": trusted})
    served = Served(app)
    try:
        assert _through(served, client, "203.0.113.9") == (seen, 200)
    finally:
        served.state.lanes.close()

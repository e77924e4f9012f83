"""RFC 9457 details for a body the route cannot read: not JSON says where it breaks, an error is listed
once, and a JSON route sent another media type says 415."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.test_bounds import _buyer, _form_customer, _problem

JSON = {"Content-Type": "application/json"}
NOT_JSON = {
    "en": "The request body is not valid JSON (line 2, column 12).",
    "zh-CN": "请求内容不是有效的 JSON（第 2 行第 12 列）。",
}
SEND_JSON = {
    "en": "Send the request body as JSON (Content-Type: application/json).",
    "zh-CN": "请以 JSON 格式发送请求内容（Content-Type: application/json）。",
}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_body_that_is_not_json_says_where_it_breaks(client: TestClient, lang: str) -> None:
    headers = {**_buyer(client), **JSON, "Accept-Language": lang}
    broken = '{"kind": "test_drive",\n  "model": su7}'
    body = _problem(client.post("/api/v1/appointments", content=broken, headers=headers), 400)
    assert body["code"] == "malformed-body" and body["detail"] == NOT_JSON[lang]
    assert body["errors"] == [
        {
            "field": "body",
            "loc": ["body"],
            "message": "JSON decode error: Expecting value",
            "type": "json_invalid",
            "line": 2,
            "column": 12,
        }
    ]


def test_a_body_refused_twice_is_listed_once(client: TestClient) -> None:
    """The order routes declare their body in two dependencies; FastAPI refuses ``[]`` once for each."""
    headers = {**_buyer(client), **JSON}
    for content in ("[]", "[1]"):
        body = _problem(client.post("/api/v1/orders", content=content, headers=headers), 422)
        assert [e["field"] for e in body["errors"]] == ["body"], body  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_json_route_sent_another_media_type_is_a_415_problem(
    client: TestClient, lang: str, content_type: str | None
) -> None:
    headers = {**_buyer(client), "Accept-Language": lang}
    if content_type:
        headers["Content-Type"] = content_type
    order = b'{"configuration": {"model": "su7", "trim": "pro"}}'
    body = _problem(client.post("/api/v1/orders", content=order, headers=headers), 415)
    assert body["code"] == "unsupported-media-type" and body["detail"] == SEND_JSON[lang]
    assert body["title"] == "Unsupported Media Type"
    response = client.post("/api/v1/orders", content=order, headers=headers)
    assert response.headers["accept-post"] == "application/json"
    empty = client.post("/api/v1/orders", headers={k: v for k, v in headers.items() if k != "Content-Type"})
    assert _problem(empty, 422)["code"] == "validation-error"  # no body at all: it is missing, not mistyped


def test_a_page_form_sent_as_text_is_still_a_form_route_422(client: TestClient) -> None:
    """The 415 is for JSON routes: a page form (and the providers' notify callbacks) reads what it gets."""
    _form_customer(client)
    page = client.post(
        "/appointments/book", content=b"kind=test_drive", headers={"Content-Type": "text/plain"}
    )
    assert page.status_code == 422, page.text[:300]

"""The launch intake route over HTTP: authentication, validation, idempotent replies, back-pressure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.ordering.intake.asgi import IntakeApp
from carloop.ordering.intake.rules import id_number_with_check
from carloop.ordering.intake.writer import WriterConfig
from carloop.settings import Settings
from carloop.web.app import create_app

URL = "/api/v1/intake/orders"
PRO = {"configuration": {"model": "su7", "trim": "pro", "options": ["paint-aqua-blue"]}}


@pytest.fixture
def token(settings: Settings, session_factory: sessionmaker[Session]) -> str:
    """A signed-in customer's bearer token."""
    with session_factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone="13800138000")
        session.flush()
        token, _ = accounts.start_session(session=session, settings=settings, customer=customer)
    return token


def intake_client(settings: Settings, config: WriterConfig | None = None) -> TestClient:
    """A client for the app with the intake in front of it."""
    return TestClient(IntakeApp(create_app(settings), config), raise_server_exceptions=False)


@pytest.fixture
def client(settings: Settings, engine: object) -> Iterator[TestClient]:
    """The intake in front of the real app."""
    with intake_client(settings) as c:
        yield c


def headers(token: str, key: str | None = "k-1") -> dict[str, str]:
    """Bearer and Idempotency-Key headers."""
    out = {"Authorization": f"Bearer {token}"}
    if key is not None:
        out["Idempotency-Key"] = key
    return out


def test_a_reservation_is_answered_after_commit_with_its_queue_position(
    client: TestClient, token: str
) -> None:
    response = client.post(URL, json=PRO, headers=headers(token))
    assert response.status_code == 201
    body = response.json()
    assert body["queue_position"] == 1 and body["status"] == "reserved" and body["deposit_fen"] > 0
    mine = client.get("/api/v1/orders", headers=headers(token, None)).json()
    assert [o["number"] for o in mine] == [body["number"]]
    assert mine[0]["deposit"]["refundable"] is True


def test_a_retry_with_the_same_key_gets_the_same_order_and_says_so(client: TestClient, token: str) -> None:
    first = client.post(URL, json=PRO, headers=headers(token))
    again = client.post(URL, json=PRO, headers=headers(token))
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(client.get("/api/v1/orders", headers=headers(token, None)).json()) == 1


def test_signing_in_is_required(client: TestClient) -> None:
    response = client.post(URL, json=PRO, headers={"Idempotency-Key": "x"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_an_idempotency_key_is_required(client: TestClient, token: str) -> None:
    assert client.post(URL, json=PRO, headers=headers(token, None)).status_code == 422


def test_an_unknown_field_is_refused_naming_it(client: TestClient, token: str) -> None:
    response = client.post(URL, json={**PRO, "discount": 1}, headers=headers(token))
    assert response.status_code == 422 and "discount" in response.json()["detail"]


def test_an_invalid_configuration_is_refused_with_its_conflicts(client: TestClient, token: str) -> None:
    bad = {
        "configuration": {"model": "su7", "trim": "pro", "options": ["paint-aqua-blue", "paint-pearl-white"]}
    }
    response = client.post(URL, json=bad, headers=headers(token))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid-configuration" and response.json()["problems"]


def test_malformed_json_is_a_400(client: TestClient, token: str) -> None:
    response = client.post(URL, content=b"{nope", headers=headers(token))
    assert response.status_code == 400


def test_an_identity_number_with_a_wrong_check_digit_is_refused(client: TestClient, token: str) -> None:
    body = {"configuration": {"model": "su7", "trim": "founders"}, "id_number": "110105194912310021"}
    response = client.post(URL, json=body, headers=headers(token))
    assert response.status_code == 422 and response.json()["field"] == "id_number"


def test_a_valid_identity_number_reserves_a_numbered_edition(client: TestClient, token: str) -> None:
    body = {
        "configuration": {"model": "su7", "trim": "founders"},
        "id_number": id_number_with_check("11010519491231002"),
    }
    response = client.post(URL, json=body, headers=headers(token))
    assert response.status_code == 201
    assert response.json()["edition_number"] == 1 and response.json()["status"] == "locked"


def test_past_capacity_the_intake_answers_503_with_retry_after_at_once(
    settings: Settings, engine: object, token: str
) -> None:
    with intake_client(settings, WriterConfig(max_pending=0)) as c:
        response = c.post(URL, json=PRO, headers=headers(token))
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.json()["code"] == "overloaded"


def test_the_hello_route_and_the_rest_of_the_app_are_served(client: TestClient) -> None:
    assert client.get("/api/v1/intake/hello").json() == {"ok": True}
    assert client.get("/healthz").status_code == 200
    assert client.get(URL).status_code == 405

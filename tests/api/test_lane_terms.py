"""The intake checks the session and HQ's terms in the group commit itself, not from a stale cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Principal, Role
from carloop.catalog import service as catalog
from carloop.ordering import terms
from carloop.ordering.models import Order
from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.lanes import LaneApp

URL = "/api/v1/intake/orders"
HQ = Principal(role=Role.HQ_OPS, staff_id=1, display_name="ops")


def body(model: str = "yu7", trim: str = "max") -> dict[str, object]:
    """A reservation of a configuration with no options."""
    return {"configuration": {"model": model, "trim": trim, "options": []}}


@pytest.fixture
def token(settings: Settings, session_factory: sessionmaker[Session]) -> str:
    """A signed-in customer's bearer token."""
    with session_factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone="13800138000")
        session.flush()
        token, _ = accounts.start_session(session=session, settings=settings, customer=customer)
    return token


@pytest.fixture
def client(settings: Settings, engine: object) -> Iterator[TestClient]:
    """The intake in front of the real app."""
    with TestClient(LaneApp(create_app(settings)), raise_server_exceptions=False) as c:
        yield c


def post(client: TestClient, token: str, key: str, payload: dict[str, object] | None = None) -> object:
    """One intake request."""
    return client.post(
        URL, json=payload or body(), headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    )


def test_a_signed_out_token_is_refused_on_the_very_next_request(
    client: TestClient, token: str, session_factory: sessionmaker[Session]
) -> None:
    assert post(client, token, "a").status_code == 201  # type: ignore[attr-defined]
    with session_factory.begin() as session:
        accounts.sign_out(session=session, token=token)
    refused = post(client, token, "b")
    assert refused.status_code == 401  # type: ignore[attr-defined]
    assert refused.json()["code"] == "authentication-failed"  # type: ignore[attr-defined]
    # A retry of the first request is refused too: it is the session, not the key, that is checked.
    assert post(client, token, "a").status_code == 401  # type: ignore[attr-defined]


def test_an_unknown_token_gets_401_even_with_a_bad_body(client: TestClient) -> None:
    response = post(client, "no-such-token", "a", {"configuration": {"model": "su7"}})
    assert response.status_code == 401  # type: ignore[attr-defined]


def test_resolve_sessions_answers_a_batch_like_resolve_session(
    settings: Settings, session_factory: sessionmaker[Session], token: str
) -> None:
    with session_factory.begin() as session:
        other = accounts.get_or_create_customer(session=session, phone="13800138001")
        session.flush()
        gone, _ = accounts.start_session(session=session, settings=settings, customer=other)
        accounts.sign_out(session=session, token=gone)
    with session_factory() as session:
        found = accounts.resolve_sessions(session=session, tokens=[token, gone, "nope", ""])
        one = accounts.resolve_session(session=session, token=token)
    assert list(found) == [token]
    assert found[token] == one


def test_a_deposit_hq_sets_applies_to_the_next_intake_order(
    client: TestClient, token: str, session_factory: sessionmaker[Session]
) -> None:
    before = post(client, token, "a").json()  # type: ignore[attr-defined]
    with session_factory.begin() as session:
        terms.set_deposit_policy(
            session=session, actor=HQ, model="yu7", trim="max", amount_fen=200_000, refundable_hours=72
        )
    after = post(client, token, "b").json()  # type: ignore[attr-defined]
    assert before["deposit_fen"] == 500_000
    assert after["deposit_fen"] == 200_000
    with session_factory() as session:
        order = session.scalar(select(Order).where(Order.number == after["number"]))
        assert order is not None
        assert (order.deposit_fen, order.refundable_hours) == (200_000, 72)
        assert order.quote["deposit"]["amount_fen"] == 200_000


def test_the_catalog_version_hq_activated_prices_intake_orders(
    client: TestClient, token: str, session_factory: sessionmaker[Session]
) -> None:
    first = post(client, token, "a", body("su7", "pro")).json()  # type: ignore[attr-defined]
    with session_factory.begin() as session:
        catalog.activate_catalog_version(session=session, actor=HQ, version="2024.03")
    second = post(client, token, "b", body("su7", "pro")).json()  # type: ignore[attr-defined]
    with session_factory() as session:
        versions = {
            o.number: o.catalog_version
            for o in session.scalars(
                select(Order).where(Order.number.in_([first["number"], second["number"]]))
            )
        }
    assert versions == {first["number"]: "2025.07", second["number"]: "2024.03"}

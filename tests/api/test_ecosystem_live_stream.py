"""GET /ecosystem/live: server-sent events with the signed-in owner's devices only; anonymous callers
and staff get nothing; each connection ends by itself (the browser reconnects)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.ecosystem import live_pages, service
from tests.builders.accounts import customer_headers, staff_headers


def _car(factory: sessionmaker[Session], phone: str, battery: float) -> int:
    with factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone=phone)
        car = service.link_vehicle(
            session=session, customer_id=customer.id, order_id=None, vin=None, model="su7", trim="pro"
        )
        car.state = {"battery": battery}
        return car.id


def test_the_stream_carries_the_owners_devices_only_and_ends_by_itself(
    client: TestClient, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_pages, "STREAM_SECONDS", 0.3)
    mine = _car(session_factory, "13800138000", 61.6)
    theirs = _car(session_factory, "13900139000", 20.0)
    owner = customer_headers(client, "13800138000")
    with client.stream("GET", "/ecosystem/live", headers=owner) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())  # ends after STREAM_SECONDS
    assert body.startswith("retry: ")
    [data] = [line.removeprefix("data: ") for line in body.splitlines() if line.startswith("data: ")]
    devices = json.loads(data)
    assert set(devices) == {str(mine)} and str(theirs) not in devices
    assert devices[str(mine)]["battery"] == "62"


def test_anonymous_callers_and_staff_get_no_stream(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    assert client.get("/ecosystem/live", headers={"Accept": "application/json"}).status_code == 401
    staff = staff_headers(client, session_factory, "ops1", Role.HQ_OPS)
    assert client.get("/ecosystem/live", headers={**staff, "Accept": "application/json"}).status_code == 403

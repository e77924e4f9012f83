"""The suppliers' API: signed like a provider's callback, idempotent, and blind to other suppliers."""

from __future__ import annotations

import json
import time
from typing import Any

from builders.supply import battery_plan, supplier
from fastapi.testclient import TestClient
from integration.production.conftest import locked_order, run_events, use_plan
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.production import rules as production_rules
from carloop.production import service as production
from carloop.production.models import PlanVersion
from carloop.supply.models import Confirmation, Supplier
from carloop.supply.rules import sign


def _signed(
    client: TestClient,
    who: Supplier,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = None,
    **h: str,
) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    ts = str(int(time.time()))
    headers = {
        "X-Supplier": who.code,
        "X-Timestamp": ts,
        "X-Signature": sign(key or who.api_key, timestamp=ts, method=method, path=path, body=raw),
        "Content-Type": "application/json",
        **h,
    }
    return client.request(method, path, content=raw, headers=headers)


def _setup(factory: sessionmaker[Session]) -> tuple[Supplier, Supplier, str]:
    use_plan(factory, battery_plan(weekly=10))
    for i in range(10):
        locked_order(factory, phone=f"138001380{i:02d}", trim="max")
    run_events(factory)
    with factory.begin() as session:
        ningde, hesai = supplier(session), supplier(session, code="hesai-optics", username="hesai")
        session.expunge_all()
    monday = production_rules.week_start(production_rules.week_of(production.today())).isoformat()
    return ningde, hesai, monday


def test_a_signed_confirmation_caps_the_plan_and_a_replay_changes_nothing(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    ningde, _, monday = _setup(session_factory)
    forecast = _signed(client, ningde, "GET", "/api/v1/supplier/forecast")
    assert forecast.status_code == 200, forecast.text
    battery = next(p for p in forecast.json()["parts"] if p["part"] == "battery-101kwh")
    assert battery["weeks"][0] == {**battery["weeks"][0], "week": monday, "firm": 10, "confirmed": None}
    body = {"part": "battery-101kwh", "week": monday, "quantity": 7}
    first = _signed(
        client, ningde, "POST", "/api/v1/supplier/confirmations", body, **{"Idempotency-Key": "edi-0001"}
    )
    assert first.status_code == 201, first.text
    assert first.json()["capped"] is True and first.json()["demand"] == 10
    with session_factory() as session:
        versions = session.scalar(select(func.count()).select_from(PlanVersion))
    again = _signed(
        client, ningde, "POST", "/api/v1/supplier/confirmations", body, **{"Idempotency-Key": "edi-0001"}
    )
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replay"] == "true"
    other = {**body, "quantity": 6}
    clash = _signed(
        client, ningde, "POST", "/api/v1/supplier/confirmations", other, **{"Idempotency-Key": "edi-0001"}
    )
    assert clash.status_code == 409 and clash.headers["content-type"].startswith("application/problem+json")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(PlanVersion)) == versions
        assert [c.quantity for c in session.scalars(select(Confirmation))] == [7]


def test_wrong_stale_or_foreign_signatures_are_refused(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    ningde, hesai, monday = _setup(session_factory)
    body = {"part": "battery-101kwh", "week": monday, "quantity": 0}
    path = "/api/v1/supplier/confirmations"
    forged = _signed(client, ningde, "POST", path, body, key=hesai.api_key, **{"Idempotency-Key": "edi-0002"})
    assert forged.status_code == 401 and forged.json()["type"].endswith("authentication-failed")
    raw = json.dumps(body).encode()
    old = str(int(time.time()) - 3600)
    stale = client.post(
        path,
        content=raw,
        headers={
            "X-Supplier": ningde.code,
            "X-Timestamp": old,
            "X-Signature": sign(ningde.api_key, timestamp=old, method="POST", path=path, body=raw),
            "Idempotency-Key": "edi-0003",
        },
    )
    assert stale.status_code == 401
    assert client.get("/api/v1/supplier/forecast").status_code == 401
    foreign = _signed(client, hesai, "POST", path, body, **{"Idempotency-Key": "edi-0004"})
    assert foreign.status_code == 404
    assert "battery" not in _signed(client, hesai, "GET", "/api/v1/supplier/forecast").text
    bad = _signed(
        client,
        ningde,
        "POST",
        path,
        {"part": "battery-101kwh", "week": "soon"},
        **{"Idempotency-Key": "k-0005"},
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Confirmation)) == 0


def test_a_signed_shortage_flag_caps_each_week_until_recovery(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    ningde, _, monday = _setup(session_factory)
    week = production_rules.week_of(production.today())
    recovery = production_rules.week_start(week + 1).isoformat()
    body = {"part": "battery-101kwh", "from_week": monday, "recovery_week": recovery, "short_share": 0.3,
            "reason": "cell line fire"}  # fmt: skip
    answer = _signed(
        client, ningde, "POST", "/api/v1/supplier/shortages", body, **{"Idempotency-Key": "flag-0001"}
    )
    assert answer.status_code == 201, answer.text
    assert [(w["quantity"], w["demand"], w["capped"]) for w in answer.json()["weeks"]] == [(7, 10, True)]

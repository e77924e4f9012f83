"""Before a campaign's reveal nobody reserves its models: the order API and the launch lane refuse
with a problem saying when orders open, in the caller's language; after the reveal they take orders."""

from __future__ import annotations

from datetime import timedelta

from builders.accounts import customer_headers
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.campaigns import service as campaigns
from carloop.campaigns.schemas import CampaignCreate
from carloop.clock import utcnow
from carloop.ordering.models import Order
from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.lanes import LaneApp

SU7 = {"configuration": {"model": "su7", "trim": "pro", "options": []}}
YU7 = {"configuration": {"model": "yu7", "trim": "pro", "options": []}}


def _campaign(factory: sessionmaker[Session], minutes: float) -> None:
    now = utcnow()
    data = CampaignCreate(
        code="su7-night",
        name_en="SU7 night",
        name_zh="SU7 之夜",
        models=["su7"],
        reveal_at=now + timedelta(minutes=minutes),
        ends_at=now + timedelta(days=1),
    )
    with factory.begin() as session:
        campaigns.create_campaign(session=session, principal=None, data=data, known_models=["su7", "yu7"])


def test_the_order_api_refuses_a_campaign_model_before_the_reveal(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _campaign(session_factory, minutes=2)
    buyer = customer_headers(client, "13800138001")
    refused = client.post("/api/v1/orders", json=SU7, headers={**buyer, "Idempotency-Key": "a"})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["code"] == "orders-not-open"
    assert body["campaign"] == "su7-night"
    assert body["detail"].startswith("Orders for the su7 open at ")
    zh = client.post("/api/v1/orders?lang=zh-CN", json=SU7, headers={**buyer, "Idempotency-Key": "a"})
    assert zh.json()["detail"].startswith("su7 将于北京时间 ") and zh.json()["detail"].endswith("开放订购。")
    other = client.post("/api/v1/orders", json=YU7, headers={**buyer, "Idempotency-Key": "b"})
    assert other.status_code == 201, other.text
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_the_launch_lane_refuses_before_the_reveal_too(
    settings: Settings, engine: object, session_factory: sessionmaker[Session]
) -> None:
    _campaign(session_factory, minutes=2)
    with TestClient(LaneApp(create_app(settings)), raise_server_exceptions=False) as client:
        buyer = customer_headers(client, "13800138002")
        refused = client.post("/api/v1/intake/orders", json=SU7, headers={**buyer, "Idempotency-Key": "a"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "orders-not-open"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_the_same_key_reserves_once_the_reveal_has_passed(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _campaign(session_factory, minutes=2)
    buyer = {**customer_headers(client, "13800138003"), "Idempotency-Key": "same"}
    assert client.post("/api/v1/orders", json=SU7, headers=buyer).status_code == 422
    with session_factory.begin() as session:  # the reveal comes
        campaign = campaigns.get_campaign_by_code(session=session, code="su7-night")
        campaign.reveal_at = utcnow() - timedelta(seconds=1)
    made = client.post("/api/v1/orders", json=SU7, headers=buyer)
    assert made.status_code == 201, made.text

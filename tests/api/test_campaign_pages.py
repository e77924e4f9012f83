"""Campaigns through the console and the storefront: HQ creates a campaign and its deep links; before
the reveal the pages show a countdown and no price; a link opens the configurator with its preset and
credits the order; the live stream and the CSV export show it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from builders.accounts import csrf_of, customer_headers, staff_headers
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Role
from carloop.campaigns.models import Campaign, CampaignOrder, CampaignTouch
from carloop.clock import SHANGHAI, utcnow


def _local(minutes: float) -> str:
    return (utcnow().astimezone(SHANGHAI) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def ops(client: TestClient, session_factory: sessionmaker[Session]) -> dict[str, str]:
    return staff_headers(client, session_factory, "ops", Role.HQ_OPS)


def _create(client: TestClient, ops: dict[str, str], **changes: str) -> int:
    csrf = csrf_of(client.get("/console/campaigns", headers=ops).text)
    form = {
        "csrf_token": csrf,
        "code": "su7-night",
        "name_en": "SU7 night",
        "name_zh": "SU7 之夜",
        "models": "su7",
        "reveal_at": _local(2),
        "ends_at": _local(24 * 60),
        "perk_kind": "first_paid",
        "perk_number": "100",
        "perk_title_en": "Free forged wheels",
        "perk_title_zh": "赠送锻造轮毂",
    }
    form.update(changes)
    response = client.post("/console/campaigns", data=form, headers=ops, follow_redirects=False)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def _link(client: TestClient, ops: dict[str, str], campaign_id: int, source: str) -> str:
    page = client.get(f"/console/campaigns/{campaign_id}", headers=ops).text
    form = {
        "csrf_token": csrf_of(page),
        "channel": "influencer",
        "source": source,
        "model": "su7",
        "trim": "max",
    }
    response = client.post(
        f"/console/campaigns/{campaign_id}/links", data=form, headers=ops, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get(f"/console/campaigns/{campaign_id}", headers=ops).text
    assert "<svg" in page  # the QR code, inline
    return page.split('data-testid="link-url" translate="no" style="word-break:break-all">')[-1].split("<")[0]


def _reveal(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        for campaign in session.scalars(select(Campaign)):
            campaign.reveal_at = utcnow() - timedelta(seconds=1)


def test_before_the_reveal_the_storefront_shows_a_countdown_and_no_price(
    client: TestClient, ops: dict[str, str]
) -> None:
    _create(client, ops)
    page = client.get("/configure/su7?trim=max&lang=en")
    assert 'data-testid="countdown"' in page.text
    assert "¥" not in page.text and 'id="reserve-form"' not in page.text
    assert "Free forged wheels" in page.text  # the perk is shown before anyone commits
    assert "¥" not in client.get("/models/su7?lang=en").text
    priced = client.post("/api/v1/catalog/price", json={"model": "su7", "trim": "max", "options": []})
    assert priced.status_code == 422 and priced.json()["code"] == "orders-not-open"
    assert client.get("/api/v1/catalog/models/su7").status_code == 422
    assert [m["code"] for m in client.get("/api/v1/catalog").json()["models"]] == ["yu7"]
    assert "¥" in client.get("/configure/yu7?lang=en").text  # other models are unaffected


def test_a_campaign_with_a_reveal_in_the_past_is_refused_with_its_reason(
    client: TestClient, ops: dict[str, str]
) -> None:
    csrf = csrf_of(client.get("/console/campaigns", headers=ops).text)
    form = {
        "csrf_token": csrf,
        "code": "late",
        "name_en": "Late",
        "name_zh": "迟到",
        "models": "su7",
        "reveal_at": _local(-5),
        "ends_at": _local(60),
    }
    response = client.post("/console/campaigns?lang=zh-CN", data=form, headers=ops)
    assert response.status_code == 422
    assert "新的揭晓时间须在未来。" in response.text


def test_a_link_credits_the_order_and_the_live_view_shows_it(
    client: TestClient, ops: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    campaign_id = _create(client, ops)
    url = _link(client, ops, campaign_id, "Alice")
    _link(client, ops, campaign_id, "Bob")
    _reveal(session_factory)
    buyer = TestClient(client.app)
    opened = buyer.get(url.split("://", 1)[1].split("/", 1)[1].join(["/", ""]), follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"] == "/configure/su7?trim=max"
    headers = customer_headers(buyer, "13800138000")
    configurator = buyer.get("/configure/su7?trim=max&lang=en", headers=headers)
    assert 'id="reserve-form"' in configurator.text and "¥" in configurator.text
    checkout = buyer.get("/checkout?model=su7&trim=max&lang=en", headers=headers)
    assert 'data-testid="perk-offer"' in checkout.text
    made = buyer.post(
        "/api/v1/orders",
        json={"configuration": {"model": "su7", "trim": "max", "options": []}},
        headers={**headers, "Idempotency-Key": "k1"},
    )
    assert made.status_code == 201, made.text
    with session_factory() as session:
        assert session.scalar(select(CampaignTouch.customer_id)) is not None
        row = session.scalar(select(CampaignOrder))
        assert row is not None and row.first_link_id is not None
    stream = client.get(f"/console/campaigns/{campaign_id}/live/stream?ticks=1", headers=ops)
    assert stream.headers["content-type"].startswith("text/event-stream")
    event = stream.text.strip().split("\n")
    assert event[0] == "event: figures"
    figures = json.loads(event[1].removeprefix("data: "))
    assert figures["reservations"] == 1
    assert {"key": "influencer:Alice", "visits": 1, "reservations": 1, "paid": 0, "locked": 0} in figures[
        "funnel"
    ]
    csv_text = client.get(f"/console/campaigns/{campaign_id}/export.csv", headers=ops).text
    assert "last_touch,influencer:Alice,1,1,0,0," in csv_text
    live = client.get(f"/console/campaigns/{campaign_id}/live?lang=zh-CN", headers=ops)
    assert live.status_code == 200 and "达人" in live.text


def test_after_the_reveal_the_perk_cannot_change(
    client: TestClient, ops: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    campaign_id = _create(client, ops)
    _reveal(session_factory)
    page = client.get(f"/console/campaigns/{campaign_id}", headers=ops).text
    form = {
        "csrf_token": csrf_of(page),
        "name_en": "SU7 night",
        "name_zh": "SU7 之夜",
        "models": "su7",
        "reveal_at": _local(-1),
        "ends_at": _local(24 * 60),
        "perk_kind": "first_paid",
        "perk_number": "5000",
        "perk_title_en": "Free forged wheels",
        "perk_title_zh": "赠送锻造轮毂",
    }
    response = client.post(f"/console/campaigns/{campaign_id}?lang=en", data=form, headers=ops)
    assert response.status_code == 422
    assert "can no longer change" in response.text


def test_customers_cannot_open_the_console(client: TestClient) -> None:
    buyer = customer_headers(client, "13800138009")
    assert client.get("/console/campaigns", headers=buyer).status_code == 403
    assert client.get("/console/campaigns/1/live/stream", headers=buyer).status_code == 403
    assert client.get("/go/nope", follow_redirects=False).status_code == 404

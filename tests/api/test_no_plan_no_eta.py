"""No plan, no ETA: until HQ saves a production plan nobody is promised a delivery window; the first
saved plan gives every waiting order its window."""

from __future__ import annotations

from builders.production import publish_sample_plan
from fastapi.testclient import TestClient
from test_change_pages import HTML, _lock, _sign_in

from carloop.production.service import NO_PLAN


def test_the_quote_api_says_there_is_no_estimate_until_a_plan_is_saved(client: TestClient) -> None:
    response = client.post("/api/v1/production/eta", json={"model": "su7", "trim": "pro", "options": []})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == NO_PLAN
    zh = client.get("/api/v1/production/eta?model=su7&trim=pro", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 409 and "生产计划" in zh.json()["detail"]


def test_the_configurator_says_no_estimate_is_available_yet_in_both_languages(client: TestClient) -> None:
    en = client.get("/configure/su7?trim=pro&lang=en", headers=HTML)
    assert en.status_code == 200
    assert 'data-testid="eta-no-plan"' in en.text and "No delivery estimate is available yet" in en.text
    assert 'data-testid="window-weeks"' not in en.text
    zh = client.get("/configure/su7?trim=pro&lang=zh", headers=HTML)
    assert 'data-testid="eta-no-plan"' in zh.text and "暂无预计交付时间" in zh.text


def test_a_locked_order_waits_without_a_window_until_hq_saves_the_first_plan(client: TestClient) -> None:
    buyer, _ = _sign_in(client, "13800138000")
    number = _lock(client, buyer)
    page = client.get(f"/orders/{number}?lang=en", headers=HTML)
    assert "No delivery estimate is available yet" in page.text
    tracking = client.get(f"/api/v1/production/orders/{number}", headers=buyer).json()
    assert tracking["window"] is None and tracking["plan_published"] is False
    assert tracking["status"] == "locked"

    publish_sample_plan(client.app.state.sessions)  # type: ignore[attr-defined]
    tracking = client.get(f"/api/v1/production/orders/{number}", headers=buyer).json()
    assert tracking["plan_published"] is True and tracking["status"] == "scheduled"
    assert tracking["window"]["latest"] is not None
    quote = client.get("/api/v1/production/eta?model=su7&trim=pro")
    assert quote.status_code == 200

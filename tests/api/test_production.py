"""Production over HTTP: the public ETA quote, the configurator's estimate, tracking, the staff plan page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carloop.handlers import all_handlers
from carloop.outbox.service import dispatch
from carloop.payments.providers.base import NotificationStatus
from carloop.production import rules, service

HTML = {"Accept": "text/html"}


@pytest.fixture(autouse=True)
def published(client: TestClient) -> None:
    """HQ has saved its first plan (without one there is no ETA: tests/api/test_no_plan_no_eta.py)."""
    with client.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
        service.save_plan(
            session=session, plan=rules.sample_plan(service.today()), reason="first plan", actor="test"
        )


def sign_in(client: TestClient, phone: str) -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def staff(client: TestClient, username: str = "ops") -> dict[str, str]:
    from carloop.accounts.demo import seed_demo_accounts

    with client.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
        logins = {login.username: login.secret for login in seed_demo_accounts(session=session)}
    token = client.post(
        "/api/v1/auth/staff/sign-in", json={"username": username, "password": logins[username]}
    ).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def locked_order(client: TestClient, buyer: dict[str, str]) -> dict[str, Any]:
    """Reserve, pay and lock an order over HTTP, then let the outbox run production's handlers."""
    made = client.post(
        "/api/v1/orders",
        json={"configuration": {"model": "su7", "trim": "pro", "options": []}},
        headers=buyer,
    ).json()
    payment = made["payment"]
    form = client.app.state.payment_provider.signed_notification(  # type: ignore[attr-defined]
        trade_no=payment["trade_no"], amount_fen=payment["amount_fen"], status=NotificationStatus.SUCCEEDED
    )
    assert client.post("/api/v1/payments/notify/simulator", data=form).status_code == 200
    confirm = {
        "acknowledge_non_refundable": True,
        "deposit_fen": 500_000,
        "configuration": made["order"]["summary"],
    }
    number = made["order"]["number"]
    assert client.post(f"/api/v1/orders/{number}/lock", json=confirm, headers=buyer).status_code == 200
    dispatch(client.app.state.sessions, all_handlers())  # type: ignore[attr-defined]
    return dict(made["order"])


def test_anyone_can_get_a_delivery_quote_before_ordering(client: TestClient) -> None:
    response = client.post("/api/v1/production/eta", json={"model": "su7", "trim": "pro", "options": []})
    assert response.status_code == 200, response.text
    quote = response.json()
    assert quote["configuration"].startswith("su7/pro/paint-aqua-blue")
    window = quote["window"]
    assert window["weeks_min"] <= window["weeks_max"]
    assert window["confidence"] is None and window["sample"] == 0  # nothing delivered: no share stated
    same = client.get("/api/v1/production/eta?model=su7&trim=pro")
    assert same.status_code == 200 and same.json()["window"] == window


def test_a_quote_names_unknown_fields_and_bad_configurations(client: TestClient) -> None:
    extra = client.post("/api/v1/production/eta", json={"model": "su7", "trim": "pro", "colour": "red"})
    assert extra.status_code == 422 and "colour" in extra.text
    bad = client.post("/api/v1/production/eta", json={"model": "su7", "trim": "nope"})
    assert bad.status_code == 422


def test_the_configurator_shows_the_delivery_estimate_without_javascript(client: TestClient) -> None:
    page = client.get("/configure/su7?trim=pro&lang=en", headers=HTML)
    assert page.status_code == 200
    assert 'data-testid="eta-quote"' in page.text
    assert re.search(r'data-testid="window-weeks">\d+–\d+ weeks<', page.text), page.text
    zh = client.get("/configure/su7?trim=pro&lang=zh", headers=HTML)
    assert "预计交付" in zh.text and "周" in zh.text


def test_a_locked_order_shows_its_window_and_stages_to_its_buyer_only(client: TestClient) -> None:
    buyer = sign_in(client, "13800138000")
    order = locked_order(client, buyer)
    number = order["number"]
    tracking = client.get(f"/api/v1/production/orders/{number}", headers=buyer)
    assert tracking.status_code == 200, tracking.text
    body = tracking.json()
    assert body["status"] == "scheduled" and body["window"]["latest"] is not None
    assert [s["stage"] for s in body["stages"]] == [str(s) for s in rules.STAGES]
    assert body["stages"][0]["at"] is not None and body["stages"][1]["at"] is None
    other = sign_in(client, "13900139000")
    assert client.get(f"/api/v1/production/orders/{number}", headers=other).status_code == 404
    client.cookies.set("carloop_session", buyer["Authorization"].removeprefix("Bearer "))
    page = client.get(f"/orders/{number}?lang=en", headers=HTML)
    inline = 'data-testid="delivery-card"' in page.text and 'data-testid="delivery-window"' in page.text
    assert inline or f'src="/orders/{number}/delivery"' in page.text
    card = client.get(f"/orders/{number}/delivery?lang=en", headers=HTML)
    assert card.status_code == 200
    assert 'data-testid="delivery-window"' in card.text and "weeks" in card.text
    assert (
        'data-stage="scheduled" ' not in card.text
        and 'class="stage-done" data-stage="scheduled"' in card.text
    )
    notices = client.get("/api/v1/production/notices", headers=buyer).json()
    assert [n["kind"] for n in notices] == ["window"]


def test_staff_move_an_order_through_production_and_it_gets_a_vin(client: TestClient) -> None:
    buyer = sign_in(client, "13800138000")
    number = locked_order(client, buyer)["number"]
    ops = staff(client)
    assert (
        client.post(
            f"/api/v1/production/orders/{number}/stage", json={"stage": "built"}, headers=ops
        ).status_code
        == 409
    )
    for stage in ("in_production", "built"):
        response = client.post(
            f"/api/v1/production/orders/{number}/stage", json={"stage": stage}, headers=ops
        )
        assert response.status_code == 200, response.text
    vin = response.json()["vin"]
    assert rules.is_valid_vin(vin)
    assert (
        client.post(
            f"/api/v1/production/orders/{number}/stage", json={"stage": "built"}, headers=buyer
        ).status_code
        == 403
    )


def test_staff_change_the_plan_as_a_new_version_and_see_the_run(client: TestClient) -> None:
    ops = staff(client)
    plan = client.get("/api/v1/production/plan", headers=ops).json()
    assert plan["version"] == 1
    data = plan["plan"]
    data["lines"][0]["weekly_capacity"] = 3000
    run = client.put("/api/v1/production/plan", json={"plan": data, "reason": "extra shift"}, headers=ops)
    assert run.status_code == 200, run.text
    assert run.json()["plan_version"] == 2
    assert client.get("/api/v1/production/plan", headers=ops).json()["version"] == 2
    runs = client.get("/api/v1/production/runs", headers=ops).json()
    assert runs[0]["trigger"] == "Plan v2: extra shift"
    assert (runs[0]["trigger_kind"], runs[0]["trigger_params"]) == (
        "plan_saved",
        {"version": 2, "reason": "extra shift"},
    )
    bad = client.put(
        "/api/v1/production/plan", json={"plan": {**data, "lines": []}, "reason": "x y"}, headers=ops
    )
    assert bad.status_code == 422


def test_the_staff_page_charts_capacity_against_demand(client: TestClient) -> None:
    buyer = sign_in(client, "13800138000")
    locked_order(client, buyer)
    ops = staff(client)
    client.cookies.set("carloop_session", ops["Authorization"].removeprefix("Bearer "))
    page = client.get("/staff/production?lang=en", headers=HTML)
    assert page.status_code == 200
    assert 'data-testid="capacity-chart"' in page.text and "<rect" in page.text and "su7/pro" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    broken = client.post(
        "/staff/production/plan",
        data={"csrf_token": csrf.group(1), "plan": "{}", "reason": "try"},
        headers=HTML,
    )
    assert broken.status_code == 422 and 'data-testid="plan-problems"' in broken.text
    buyer_page = client.get("/staff/production", headers={**HTML, **buyer})
    assert buyer_page.status_code in (403, 303)


def test_a_post_lock_change_shows_the_new_queue_and_window_before_confirming(client: TestClient) -> None:
    buyer = sign_in(client, "13800138000")
    number = locked_order(client, buyer)["number"]
    preview = client.post(
        f"/api/v1/production/orders/{number}/reconfigure-preview",
        json={"model": "su7", "trim": "max", "options": []},
        headers=buyer,
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["current"]["latest"] is not None
    assert body["proposed"]["configuration"].startswith("su7/max/")
    assert body["proposed"]["queue_ahead"] == 0
    other = sign_in(client, "13900139000")
    denied = client.post(
        f"/api/v1/production/orders/{number}/reconfigure-preview",
        json={"model": "su7", "trim": "max"},
        headers=other,
    )
    assert denied.status_code == 404

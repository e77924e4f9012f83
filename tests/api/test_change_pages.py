"""The buyer's post-lock change pages: configurator in change mode, review, confirmation; 24 hours."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from builders.production import publish_sample_plan
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from carloop.handlers import all_handlers
from carloop.ordering.models import Order, OrderChange
from carloop.outbox.service import dispatch
from carloop.payments.providers.base import NotificationStatus
from carloop.web.deps import csrf_token_for

HTML = {"Accept": "text/html"}


def _sign_in(client: TestClient, phone: str) -> tuple[dict[str, str], str]:
    client.cookies.clear()
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    client.cookies.set("carloop_session", token)
    return {"Authorization": f"Bearer {token}"}, csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]


def _locked_order(client: TestClient, buyer: dict[str, str]) -> str:
    """A paid and locked order, with HQ's first plan in force."""
    publish_sample_plan(client.app.state.sessions)  # type: ignore[attr-defined]
    return _lock(client, buyer)


def _lock(client: TestClient, buyer: dict[str, str]) -> str:
    """Reserve, pay and lock an order over HTTP and let the outbox run (whether or not a plan exists)."""
    made: dict[str, Any] = client.post(
        "/api/v1/orders",
        json={"configuration": {"model": "su7", "trim": "pro", "options": []}},
        headers=buyer,
    ).json()
    payment = made["payment"]
    form = client.app.state.payment_provider.signed_notification(  # type: ignore[attr-defined]
        trade_no=payment["trade_no"], amount_fen=payment["amount_fen"], status=NotificationStatus.SUCCEEDED
    )
    assert client.post("/api/v1/payments/notify/simulator", data=form).text == "success"
    number = str(made["order"]["number"])
    right = {
        "acknowledge_non_refundable": True,
        "deposit_fen": 500_000,
        "configuration": made["order"]["summary"],
    }
    assert client.post(f"/api/v1/orders/{number}/lock", json=right, headers=buyer).status_code == 200
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    while dispatch(sessions, all_handlers()):
        pass
    return number


def _hidden(html: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html):
        if name == "option":
            fields.setdefault("option", []).append(value)
        else:
            fields[name] = value
    return fields


def test_a_buyer_reviews_and_confirms_a_change_within_24_hours(client: TestClient) -> None:
    buyer, csrf = _sign_in(client, "13800138000")
    number = _locked_order(client, buyer)
    order_page = client.get(f"/orders/{number}?lang=zh-CN", headers=HTML)
    assert "变更配置" in order_page.text and f'href="/orders/{number}/change"' in order_page.text
    start = client.get(f"/orders/{number}/change", headers=HTML, follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(
        f"/configure/su7?change={number}"
    )
    configurator = client.get(start.headers["location"], headers=HTML)
    assert f'action="/orders/{number}/change/review"' in configurator.text and "查看变更" in configurator.text

    review = client.get(f"/orders/{number}/change/review?trim=max&option=paint-verdant-green", headers=HTML)
    assert review.status_code == 200
    for testid in ("change-total", "change-position", "change-window", "change-difference"):
        assert f'data-testid="{testid}"' in review.text
    assert "您需多支付" in review.text and "#1" in review.text
    form = _hidden(review.text)
    assert form["latest_delivery"]  # the window end the buyer saw is repeated

    unticked = client.post(f"/orders/{number}/change", data=form, headers=HTML)
    assert unticked.status_code == 422 and "请确认您接受新的价格和交付时间窗" in unticked.text
    forged = client.post(f"/orders/{number}/change", data={**form, "csrf_token": "x", "acknowledge": "true"})
    assert forged.status_code == 403
    for _ in range(2):  # a double submit applies it once
        done = client.post(
            f"/orders/{number}/change",
            data={**form, "acknowledge": "true"},
            headers=HTML,
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == f"/orders/{number}"
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        assert session.scalar(select(func.count()).select_from(OrderChange)) == 1
        assert session.scalar(select(Order.trim).where(Order.number == number)) == "max"
    after = client.get(f"/orders/{number}?lang=zh-CN", headers=HTML)
    assert "锁单后变更了配置" in after.text
    del csrf


def test_someone_elses_order_is_not_found_and_a_late_change_says_why(client: TestClient) -> None:
    buyer, _ = _sign_in(client, "13800138000")
    number = _locked_order(client, buyer)
    _, other_csrf = _sign_in(client, "13900139000")
    assert client.get(f"/orders/{number}/change", headers=HTML).status_code == 404
    assert client.get(f"/orders/{number}/change/review?trim=max", headers=HTML).status_code == 404
    posted = client.post(
        f"/orders/{number}/change",
        data={
            "csrf_token": other_csrf,
            "trim": "max",
            "total_fen": "1",
            "configuration": "x",
            "form_key": "k" * 16,
        },
        headers=HTML,
    )
    assert posted.status_code == 404
    with client.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
        locked_at = session.scalar(select(Order.locked_at).where(Order.number == number))
        assert locked_at is not None
        session.execute(
            update(Order).where(Order.number == number).values(locked_at=locked_at - timedelta(hours=25))
        )
    _sign_in(client, "13800138000")
    closed = client.get(f"/orders/{number}/change?lang=zh-CN", headers=HTML)
    assert closed.status_code == 200 and "该时限已过，配置已无法再变更" in closed.text
    review = client.get(f"/orders/{number}/change/review?trim=max&lang=en", headers=HTML)
    assert "That time has passed, so it can no longer change." in review.text
    order_page = client.get(f"/orders/{number}?lang=zh-CN", headers=HTML)
    assert 'data-testid="change-closed"' in order_page.text and "change-start" not in order_page.text

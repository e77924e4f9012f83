"""Each order state has its own panel on the buyer's order page, and the cashier never offers to pay twice."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from carloop.clock import utcnow
from carloop.ordering import deposits
from carloop.web.deps import SESSION_COOKIE
from tests.api.test_orders import pay, reserve, sign_in

HTML = {"Accept": "text/html"}


def _page(client: TestClient, buyer: dict[str, str], number: str, lang: str = "en") -> str:
    client.cookies.set(SESSION_COOKIE, buyer["Authorization"].removeprefix("Bearer "))
    page = client.get(f"/orders/{number}?lang={lang}", headers=HTML)
    assert page.status_code == 200, page.text
    return page.text


def _lock(client: TestClient, buyer: dict[str, str], made: dict[str, object]) -> None:
    order = made["order"]
    assert isinstance(order, dict)
    body = {"acknowledge_non_refundable": True, "deposit_fen": 500_000, "configuration": order["summary"]}
    locked = client.post(f"/api/v1/orders/{order['number']}/lock", json=body, headers=buyer)
    assert locked.status_code == 200, locked.text


def test_a_refunded_order_says_how_much_went_back_where_and_by_when(client: TestClient) -> None:
    buyer = sign_in(client, "13800138000")
    made = reserve(client, buyer)
    pay(client, made["payment"])
    number = made["order"]["number"]
    assert client.post(f"/api/v1/orders/{number}/refund", headers=buyer).status_code == 200
    html = _page(client, buyer, number)
    assert 'data-testid="refund-panel"' in html
    assert "¥5,000.00" in html.split('data-testid="refund-amount"')[1][:40]
    assert "through the payment simulator" in html
    assert 'data-testid="refund-arrives"' in html
    # no promise of a delivery window, no stages to come, no warning box
    for gone in (
        'data-testid="delivery-card"',
        'data-testid="delivery-frame"',
        'data-testid="not-refundable"',
    ):
        assert gone not in html
    zh = _page(client, buyer, number, "zh-CN")
    assert "定金已退款" in zh and "预计到账" in zh


def test_a_cancelled_unpaid_order_and_a_lapsed_one_have_their_own_panels(client: TestClient) -> None:
    buyer = sign_in(client, "13800138000")
    cancelled = reserve(client, buyer)["order"]["number"]
    assert client.post(f"/api/v1/orders/{cancelled}/cancel", json={}, headers=buyer).status_code == 200
    html = _page(client, buyer, cancelled)
    assert 'data-testid="cancelled-panel"' in html and "Nothing was paid" in html
    assert 'data-testid="delivery-card"' not in html

    lapsed = reserve(client, buyer)["order"]["number"]
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        assert deposits.lapse_unpaid(session=s, now=utcnow() + timedelta(days=30)) == 1
    html = _page(client, buyer, lapsed)
    assert 'data-testid="lapsed-panel"' in html and 'data-testid="reserve-again"' in html
    assert 'data-testid="cancelled-panel"' not in html


def test_a_locked_order_shows_its_lock_and_stages_done_current_and_next(client: TestClient) -> None:
    buyer = sign_in(client, "13800138000")
    made = reserve(client, buyer)
    pay(client, made["payment"])
    _lock(client, buyer, made)
    html = _page(client, buyer, made["order"]["number"])
    assert 'data-testid="locked-panel"' in html and "Locked on" in html
    assert 'data-testid="car"' in html and "--paint:#" in html
    assert 'data-testid="refund-panel"' not in html
    if 'data-testid="tracking"' in html:  # rendered in place (else served in the delivery frame)
        assert 'class="stage-current"' in html and 'class="stage-next"' in html


def test_the_cashier_shows_no_pay_button_once_paid_and_is_never_cached(client: TestClient) -> None:
    buyer = sign_in(client, "13800138000")
    made = reserve(client, buyer)
    trade_no = made["payment"]["trade_no"]
    client.cookies.set(SESSION_COOKIE, buyer["Authorization"].removeprefix("Bearer "))
    before = client.get(f"/pay/simulator/{trade_no}?lang=en", headers=HTML)
    assert 'data-testid="sim-pay"' in before.text
    assert before.headers["cache-control"] == "no-store"
    pay(client, made["payment"])
    after = client.get(f"/pay/simulator/{trade_no}?lang=en", headers=HTML)
    assert 'data-testid="sim-pay"' not in after.text and 'data-testid="sim-paid"' in after.text

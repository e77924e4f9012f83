"""Points and shop over HTTP: delivery points, check-in, compensation, checkout with points, refunds."""

from __future__ import annotations

import html
import re

import pytest
from builders.accounts import customer_headers, staff_headers
from builders.ordering import deliver, locked_order
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Role
from carloop.handlers import all_handlers
from carloop.loyalty import shop
from carloop.loyalty.rules import EARN_RULES, EarnReason
from carloop.outbox.service import dispatch
from carloop.payments import ledger as money_ledger
from carloop.payments.models import Refund

DELIVERY = EARN_RULES[EarnReason.DELIVERY].points
HTML = {"Accept": "text/html"}


@pytest.fixture
def products(session_factory: sessionmaker[Session]) -> None:
    """A mug (5 in stock) and a model car (1 in stock)."""
    with session_factory.begin() as session:
        shop.add_product(
            session=session, sku="MUG", name_zh="马克杯", name_en="Mug", price_points=800, stock=5
        )
        shop.add_product(
            session=session, sku="CAR", name_zh="车模", name_en="Model car", price_points=3000, stock=1
        )


def _delivered_owner(client: TestClient, factory: sessionmaker[Session], phone: str) -> dict[str, str]:
    headers = customer_headers(client, phone)
    me = client.get("/api/v1/me", headers=headers).json()
    deliver(factory, locked_order(factory, me["customer_id"]))
    dispatch(factory, all_handlers())
    return headers


def test_a_delivered_owner_finds_points_and_spends_them(
    client: TestClient, session_factory: sessionmaker[Session], products: None
) -> None:
    owner = _delivered_owner(client, session_factory, "13800138000")
    points = client.get("/api/v1/points/me", headers=owner).json()
    assert points["balance"] == DELIVERY and points["history"][0]["reason"] == "delivery"
    bought = client.post(
        "/api/v1/shop/orders",
        json={"items": [{"sku": "MUG", "quantity": 2}]},
        headers={**owner, "Idempotency-Key": "cart-1"},
    )
    assert bought.status_code == 201, bought.text
    again = client.post(
        "/api/v1/shop/orders",
        json={"items": [{"sku": "MUG", "quantity": 2}]},
        headers={**owner, "Idempotency-Key": "cart-1"},
    )
    assert again.json()["number"] == bought.json()["number"]
    assert client.get("/api/v1/points/me", headers=owner).json()["balance"] == DELIVERY - 1600
    assert [o["points_total"] for o in client.get("/api/v1/shop/orders", headers=owner).json()] == [1600]
    stock = {p["sku"]: p["stock"] for p in client.get("/api/v1/shop/products", headers=owner).json()}
    assert stock == {"CAR": 1, "MUG": 3}


def test_out_of_stock_and_short_balances_are_refused(
    client: TestClient, session_factory: sessionmaker[Session], products: None
) -> None:
    owner = _delivered_owner(client, session_factory, "13800138000")
    sold_out = client.post(
        "/api/v1/shop/orders", json={"items": [{"sku": "CAR", "quantity": 2}]}, headers=owner
    )
    assert sold_out.status_code == 409
    poor = customer_headers(client, "13800138009")
    short = client.post("/api/v1/shop/orders", json={"items": [{"sku": "MUG", "quantity": 1}]}, headers=poor)
    assert short.status_code == 422 or short.status_code == 409
    assert client.get("/api/v1/shop/products", headers=poor).json()[1]["stock"] == 5
    unknown = client.post("/api/v1/shop/orders", json={"items": [], "extra": 1}, headers=poor)
    assert unknown.status_code == 422


def test_staff_compensate_with_a_reason_and_refund_shop_orders(
    client: TestClient, session_factory: sessionmaker[Session], products: None
) -> None:
    owner = customer_headers(client, "13800138000")
    cid = client.get("/api/v1/me", headers=owner).json()["customer_id"]
    ops = staff_headers(client, session_factory, "ops", Role.HQ_OPS)
    grant = {"customer_id": cid, "points": 1000, "reason": "OTA shipped without notice", "key": "ota-2026-11"}
    assert client.post("/api/v1/staff/points/compensations", json=grant, headers=owner).status_code == 403
    assert client.post("/api/v1/staff/points/compensations", json=grant, headers=ops).status_code == 201
    assert client.post("/api/v1/staff/points/compensations", json=grant, headers=ops).status_code == 201
    assert client.get("/api/v1/points/me", headers=owner).json()["balance"] == 1000
    number = client.post(
        "/api/v1/shop/orders", json={"items": [{"sku": "MUG", "quantity": 1}]}, headers=owner
    ).json()["number"]
    refunded = client.post(
        f"/api/v1/staff/shop/orders/{number}/refund", json={"reason": "damaged"}, headers=ops
    )
    assert refunded.json()["status"] == "refunded"
    assert client.get("/api/v1/points/me", headers=owner).json()["balance"] == 1000


def test_check_in_pays_once_a_day(client: TestClient) -> None:
    owner = customer_headers(client, "13800138000")
    client.post("/api/v1/points/me/checkin", headers=owner)
    assert client.post("/api/v1/points/me/checkin", headers=owner).json()["balance"] == 5


def test_me_and_shop_pages_show_points_and_buy_with_a_form(
    client: TestClient, session_factory: sessionmaker[Session], products: None
) -> None:
    owner = _delivered_owner(client, session_factory, "13800138000")
    client.cookies.set("carloop_session", owner["Authorization"].removeprefix("Bearer "))
    me = client.get("/me?lang=en", headers=HTML)
    assert me.status_code == 200 and f">{DELIVERY}<" in me.text and "Car delivered" in me.text
    page = client.get("/shop", headers=HTML)
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form_key = page.text.split('name="form_key" value="')[1].split('"')[0]
    form = {"csrf_token": csrf, "form_key": form_key, "sku": ["CAR", "MUG"], "quantity": ["0", "1"]}
    placed = client.post("/shop/checkout", data=form, headers=HTML, follow_redirects=False)
    assert placed.status_code == 303
    client.post("/shop/checkout", data=form, headers=HTML)  # a double submit buys once
    orders = client.get(placed.headers["location"], headers=HTML)
    assert orders.text.count('<td class="num">800</td>') == 1
    too_many = {**form, "form_key": "another-key-1", "quantity": ["2", "0"]}
    refused = client.post("/shop/checkout", data=too_many, headers=HTML)
    assert refused.status_code == 409 and 'data-testid="shop-error"' in refused.text
    zh = client.get("/me?lang=zh-CN", headers=HTML)
    assert "积分" in zh.text


def test_owner_events_sign_up_waitlist_and_check_in(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    a, b = customer_headers(client, "13800138000"), customer_headers(client, "13800138001")
    ops = staff_headers(client, session_factory, "ops", Role.HQ_OPS)
    event = {
        "kind": "track_day",
        "title_zh": "赛道日",
        "title_en": "Track day",
        "starts_at": "2099-05-01T09:00:00+08:00",
        "capacity": 1,
    }
    assert client.post("/api/v1/staff/events", json=event, headers=a).status_code == 403
    eid = client.post("/api/v1/staff/events", json=event, headers=ops).json()["id"]
    assert client.post(f"/api/v1/events/{eid}/signup", headers=a).json()["status"] == "confirmed"
    assert client.post(f"/api/v1/events/{eid}/signup", headers=b).json()["status"] == "waitlisted"
    assert client.get("/api/v1/events", headers=a).json()[0]["places_left"] == 0
    client.delete(f"/api/v1/events/{eid}/signup", headers=a)
    b_id = client.get("/api/v1/me", headers=b).json()["customer_id"]
    checked = client.post(f"/api/v1/staff/events/{eid}/checkins", json={"customer_id": b_id}, headers=ops)
    assert checked.json()["status"] == "checked_in"
    assert (
        client.get("/api/v1/points/me", headers=b).json()["balance"]
        == EARN_RULES[EarnReason.EVENT_CHECKIN].points
    )


@pytest.fixture
def cash_products(session_factory: sessionmaker[Session]) -> None:
    """A cap sold for 1000 points or ¥49."""
    with session_factory.begin() as session:
        shop.add_product(
            session=session,
            sku="CAP",
            name_zh="帽子",
            name_en="Cap",
            price_points=1000,
            stock=3,
            price_fen=4900,
        )


def _simulator_forms(page: str) -> list[dict[str, str]]:
    """The signed forms on the simulator page: [paid, abandoned]."""
    forms = []
    for chunk in page.split("<form")[1:]:
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', chunk.split("</form>")[0]))
        forms.append({k: html.unescape(v) for k, v in fields.items()})
    return [f for f in forms if "sign" in f]


def test_mixed_points_and_cash_checkout_pays_through_the_provider_and_refunds_both(
    client: TestClient, session_factory: sessionmaker[Session], cash_products: None
) -> None:
    owner = customer_headers(client, "13800138000")
    cid = client.get("/api/v1/me", headers=owner).json()["customer_id"]
    ops = staff_headers(client, session_factory, "ops", Role.HQ_OPS)
    grant = {"customer_id": cid, "points": 600, "reason": "welcome gift", "key": "welcome"}
    client.post("/api/v1/staff/points/compensations", json=grant, headers=ops)
    body = {"items": [{"sku": "CAP", "quantity": 1}], "points": 600}
    placed = client.post("/api/v1/shop/orders", json=body, headers={**owner, "Idempotency-Key": "c1"})
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert (order["status"], order["points_total"], order["cash_fen"]) == ("awaiting_payment", 600, 1960)
    assert client.get("/api/v1/points/me", headers=owner).json()["balance"] == 0
    client.cookies.set("carloop_session", owner["Authorization"].removeprefix("Bearer "))
    sim = client.get(order["pay_url"], headers=HTML)
    assert sim.status_code == 200 and "¥19.60" in sim.text
    assert order["pay_url"].startswith("/pay/simulator/")  # the one simulator page, for every payment
    paid_form, _ = _simulator_forms(sim.text)
    client.cookies.clear()
    notified = client.post("/api/v1/payments/notify/simulator", data=paid_form)
    assert notified.status_code == 200 and notified.text == "success"
    assert client.post("/api/v1/payments/notify/simulator", data=paid_form).text == "success"  # replay
    mine = client.get(f"/api/v1/shop/orders/{order['number']}", headers=owner).json()
    assert mine["status"] == "paid" and mine["pay_url"] is None
    other = customer_headers(client, "13800138001")
    assert client.get(f"/api/v1/shop/orders/{order['number']}", headers=other).status_code == 404
    refund = {"reason": "wrong size"}
    assert (
        client.post(
            f"/api/v1/staff/shop/orders/{order['number']}/refund", json=refund, headers=owner
        ).status_code
        == 403
    )
    refunded = client.post(f"/api/v1/staff/shop/orders/{order['number']}/refund", json=refund, headers=ops)
    assert refunded.json()["status"] == "refunded"
    again = client.post(f"/api/v1/staff/shop/orders/{order['number']}/refund", json=refund, headers=ops)
    assert again.status_code == 200 and again.json()["status"] == "refunded"
    assert client.get("/api/v1/points/me", headers=owner).json()["balance"] == 600
    with session_factory() as session:
        assert money_ledger.check(session=session).ok
        refunds = session.scalars(select(Refund)).all()
        assert [r.amount_fen for r in refunds] == [1960]


def test_shop_page_pays_cash_on_the_simulator_and_cancels_unpaid_orders(
    client: TestClient, session_factory: sessionmaker[Session], cash_products: None
) -> None:
    owner = customer_headers(client, "13800138000")
    client.cookies.set("carloop_session", owner["Authorization"].removeprefix("Bearer "))
    page = client.get("/shop?lang=en", headers=HTML)
    assert "¥49.00" in page.text
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {
        "csrf_token": csrf,
        "form_key": "page-cash-1",
        "sku": ["CAP"],
        "quantity": ["1"],
        "pay_with": "cash",
    }
    placed = client.post("/shop/checkout", data=form, headers=HTML, follow_redirects=False)
    assert placed.status_code == 303 and placed.headers["location"].startswith("/pay/simulator/")
    sim = client.get(placed.headers["location"], headers=HTML)
    paid_form, _ = _simulator_forms(sim.text)
    back = client.post(
        "/api/v1/payments/notify/simulator?return_to=" + sim.text.split("return_to=")[1].split('"')[0],
        data={k: v for k, v in paid_form.items() if k != "csrf_token"},
        follow_redirects=False,
    )
    assert back.status_code == 303
    orders = client.get(html.unescape(back.headers["location"]), headers=HTML)
    assert 'data-testid="order-placed"' in orders.text and "is paid" in orders.text
    second = {**form, "form_key": "page-cash-2"}
    client.post("/shop/checkout", data=second, headers=HTML, follow_redirects=False)
    listing = client.get("/shop/orders?lang=zh-CN", headers=HTML)
    assert "待支付" in listing.text
    number = listing.text.split('data-testid="cancel-')[1].split('"')[0]
    cancelled = client.post(
        f"/shop/orders/{number}/cancel", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert cancelled.status_code == 303
    stock = {p["sku"]: p["stock"] for p in client.get("/api/v1/shop/products", headers=owner).json()}
    assert stock == {"CAP": 2}
    with session_factory() as session:
        assert money_ledger.check(session=session).ok

"""Balance and handover pages: the buyer pays the balance in two parts (online through the provider's
page, then at the till), the centre's staff complete the checklist and the order is delivered; staff of
another store get 404 for every part of it."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.audit.models import AuditEntry
from carloop.errors import PolicyViolation
from carloop.network import service as network
from carloop.network.handover_pages import amount_fen
from carloop.ordering import service as ordering
from carloop.ordering.rules import OrderStatus
from carloop.payments import ledger
from carloop.payments.providers.base import NotificationStatus
from carloop.web.deps import csrf_token_for

HTML = {"Accept": "text/html"}
PASSWORD = "a-long-staff-password"
VIN = "LSJA24U69PS000042"


def sign_in(client: TestClient, phone: str) -> str:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    return str(client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"])


def staff_token(client: TestClient, username: str) -> str:
    answer = client.post("/api/v1/auth/staff/sign-in", json={"username": username, "password": PASSWORD})
    return str(answer.json()["token"])


def use(client: TestClient, token: str) -> str:
    """Browse as the holder of ``token`` (cookie); returns the form token."""
    client.cookies.set("carloop_session", token)
    return csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]


@pytest.fixture
def arrived(client: TestClient) -> dict[str, Any]:
    """A buyer's paid order assigned to BJ-DC-01 whose car has arrived there; staff of two stores."""
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        network.seed_sample_network(session=s)
        for username, code in (("bj", "BJ-DC-01"), ("sh", "SH-DC-01")):
            accounts.create_staff(
                session=s, actor=None, username=username, display_name=username, password=PASSWORD,
                role=Role.STORE_STAFF, store_id=network.get_store_by_code(session=s, code=code).id,
            )  # fmt: skip
    buyer = sign_in(client, "13800138000")
    me = {"Authorization": f"Bearer {buyer}"}
    made = client.post("/api/v1/orders", json={"configuration": {"model": "su7", "trim": "pro"}}, headers=me)
    number = made.json()["order"]["number"]
    notify(client, made.json()["payment"]["trade_no"], made.json()["payment"]["amount_fen"])
    assert client.post(
        f"/api/v1/orders/{number}/delivery-centre", json={"city": "Beijing"}, headers=me
    ).is_success
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        order = ordering.load(session=s, number=number)
        for target in (
            OrderStatus.LOCKED, OrderStatus.SCHEDULED, OrderStatus.IN_PRODUCTION, OrderStatus.BUILT,
            OrderStatus.IN_TRANSIT, OrderStatus.AT_DELIVERY_CENTRE,
        ):  # fmt: skip
            extra = {"vin": VIN} if target is OrderStatus.BUILT else {}
            ordering.advance(
                session=s, order=order, target=target, actor="production", reason="test", **extra
            )
    return {
        "number": number,
        "buyer": buyer,
        "bj": staff_token(client, "bj"),
        "sh": staff_token(client, "sh"),
    }


def notify(client: TestClient, trade_no: str, amount: int) -> None:
    provider = client.app.state.payment_provider  # type: ignore[attr-defined]
    form = provider.signed_notification(
        trade_no=trade_no, amount_fen=amount, status=NotificationStatus.SUCCEEDED
    )
    assert client.post("/api/v1/payments/notify/simulator", data=form).text == "success"


def due(page: str) -> int:
    return int(re.findall(r'data-due="(\d+)"', page)[0])


def test_balance_in_two_parts_then_handover_by_the_centres_staff_only(
    client: TestClient, arrived: dict[str, Any]
) -> None:
    number = arrived["number"]

    # the buyer pays part of the balance online, through the provider's (simulator's) page
    csrf = use(client, arrived["buyer"])
    page = client.get(f"/orders/{number}/balance", headers=HTML)
    assert page.status_code == 200 and "支付尾款" in page.text
    owed = due(page.text)
    assert owed > 100_000
    first_part = owed - 100_000
    form = {"csrf_token": csrf, "amount": f"{first_part / 100:.2f}"}
    started = client.post(f"/orders/{number}/balance", data=form, headers=HTML, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"].startswith("/pay/simulator/")
    simulator = client.get(started.headers["location"], headers=HTML)
    assert simulator.status_code == 200
    pay_form = simulator.text.split('data-testid="sim-pay"')[0].rsplit("<form", 1)[1]
    fields = {k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', pay_form)}
    paid = client.post("/api/v1/payments/notify/simulator", data=fields, follow_redirects=False)
    assert paid.status_code in (200, 303)
    after = client.get(
        f"/orders/{number}/balance", headers={**HTML, "Accept-Language": "en"}, params={"lang": "en"}
    )
    assert due(after.text) == 100_000 and "Received" in after.text
    too_much = client.post(
        f"/orders/{number}/balance", data={"csrf_token": csrf, "amount": "99999999"}, headers=HTML
    )
    assert too_much.status_code == 422 and due(too_much.text) == 100_000

    # staff of another store see nothing and change nothing
    other = use(client, arrived["sh"])
    assert client.get(f"/staff/orders/{number}/handover", headers=HTML).status_code == 404
    till = {"csrf_token": other, "amount": "1000.00", "reference": "POS-1"}
    assert client.post(f"/staff/orders/{number}/payments", data=till, headers=HTML).status_code == 404
    checklist = {"csrf_token": other, "vin": VIN, "inspection_passed": "true", "documents_signed": "true"}
    assert client.post(f"/staff/orders/{number}/handover", data=checklist, headers=HTML).status_code == 404

    # the centre's staff: the handover waits for the money, then the till payment settles it
    csrf = use(client, arrived["bj"])
    desk = client.get(f"/staff/orders/{number}/handover", headers=HTML)
    assert desk.status_code == 200 and VIN not in desk.text and due(desk.text) == 100_000
    checklist["csrf_token"] = csrf
    early = client.post(f"/staff/orders/{number}/handover", data=checklist, headers=HTML)
    assert early.status_code == 422 and 'data-testid="handover-error"' in early.text
    forged = client.post(f"/staff/orders/{number}/payments", data={**till, "csrf_token": "x"}, headers=HTML)
    assert forged.status_code == 403
    till["csrf_token"] = csrf
    for _ in range(2):  # the same till reference twice books once
        recorded = client.post(
            f"/staff/orders/{number}/payments", data=till, headers=HTML, follow_redirects=False
        )
        assert recorded.status_code == 303
    desk = client.get(f"/staff/orders/{number}/handover", headers=HTML)
    assert due(desk.text) == 0 and 'data-settled="yes"' in desk.text
    wrong_vin = client.post(
        f"/staff/orders/{number}/handover", data={**checklist, "vin": "LWRONG0000000000"}, headers=HTML
    )
    assert wrong_vin.status_code == 422
    unticked = {k: v for k, v in checklist.items() if k != "documents_signed"}
    assert client.post(f"/staff/orders/{number}/handover", data=unticked, headers=HTML).status_code == 422
    done = client.post(
        f"/staff/orders/{number}/handover", data=checklist, headers=HTML, follow_redirects=False
    )
    assert done.status_code == 303
    assert 'data-testid="delivered"' in client.get(f"/staff/orders/{number}/handover", headers=HTML).text

    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        order = ordering.load(session=s, number=number)
        assert order.status is OrderStatus.DELIVERED
        assert ledger.held_for_order(session=s, order_id=order.id) == order.total_fen
        actions = {e.action for e in s.query(AuditEntry).filter(AuditEntry.target_id == str(order.id))}
    assert {"payment.record_at_store", "order.handover"} <= actions


@pytest.mark.parametrize(
    "text", ["", "abc", "-5", "0", "1.234", "NaN", "Infinity", "1e400", "9" * 40, "-1e400"]
)
def test_amounts_typed_in_yuan_must_be_positive_with_at_most_two_decimals(text: str) -> None:
    with pytest.raises(PolicyViolation):
        amount_fen(text)


@pytest.mark.parametrize(("text", "fen"), [("12000.50", 1_200_050), ("¥1,000", 100_000), (" 0.01 ", 1)])
def test_amounts_typed_in_yuan_become_fen(text: str, fen: int) -> None:
    assert amount_fen(text) == fen

"""The network over HTTP: a buyer test-drives, books delivery at the assigned centre once the car has
arrived, pays the balance in two parts and takes the car; staff of another store see and change nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.clock import utcnow
from carloop.handlers import all_handlers
from carloop.network import service as network
from carloop.ordering import service as ordering
from carloop.ordering.rules import OrderStatus
from carloop.outbox.service import dispatch
from carloop.payments.providers.base import NotificationStatus

VIN = "LSJA24U69PS000042"
PASSWORD = "a-long-staff-password"


def sign_in(client: TestClient, phone: str) -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def staff_sign_in(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/staff/sign-in", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def notify(client: TestClient, payment: dict[str, Any]) -> None:
    provider = client.app.state.payment_provider  # type: ignore[attr-defined]
    form = provider.signed_notification(
        trade_no=payment["trade_no"], amount_fen=payment["amount_fen"], status=NotificationStatus.SUCCEEDED
    )
    assert client.post("/api/v1/payments/notify/simulator", data=form).text == "success"


@pytest.fixture
def world(client: TestClient) -> dict[str, dict[str, str]]:
    """The sample network, staff at the Beijing centre and the Shanghai store, and a signed-in buyer."""
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        network.seed_sample_network(session=s)
        for username, code in (("bj", "BJ-DC-01"), ("sh", "SH-ST-01")):
            store = network.get_store_by_code(session=s, code=code)
            accounts.create_staff(
                session=s,
                actor=None,
                username=username,
                display_name=username,
                password=PASSWORD,
                role=Role.STORE_STAFF,
                store_id=store.id,
            )
    return {
        "buyer": sign_in(client, "13800138000"),
        "bj": staff_sign_in(client, "bj"),
        "sh": staff_sign_in(client, "sh"),
    }


def move(client: TestClient, number: str, *targets: OrderStatus) -> None:
    """Production and logistics move the order (issue 4 does this for real)."""
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        order = ordering.load(session=s, number=number)
        for target in targets:
            extra = {"vin": VIN} if target is OrderStatus.BUILT else {}
            ordering.advance(
                session=s, order=order, target=target, actor="production", reason="test", **extra
            )


def test_the_buyer_journey_from_test_drive_to_handover(
    client: TestClient, world: dict[str, dict[str, str]]
) -> None:
    me, bj, sh = world["buyer"], world["bj"], world["sh"]
    day = (utcnow() + timedelta(days=2)).date().isoformat()

    # 1. a test drive at a nearby store with the model on display
    found = client.get(
        "/api/v1/stores", params={"city": "Beijing", "service": "test_drive", "model": "su7"}, headers=me
    )
    assert found.status_code == 200, found.text
    store = found.json()[0]["store"]
    assert store["city"] == "Beijing" and any(c["model"] == "su7" for c in store["demo_cars"])
    slots = client.get(
        f"/api/v1/stores/{store['code']}/slots",
        params={"kind": "test_drive", "day": day, "model": "su7"},
        headers=me,
    ).json()
    drive = client.post(
        "/api/v1/appointments",
        json={
            "kind": "test_drive",
            "store_code": store["code"],
            "starts_at": slots[0]["starts_at"],
            "model": "su7",
        },
        headers=me,
    )
    assert drive.status_code == 201, drive.text

    # 2. the order, its deposit, and its delivery centre from the buyer's city
    made = client.post(
        "/api/v1/orders", json={"configuration": {"model": "su7", "trim": "pro"}}, headers=me
    ).json()
    number = made["order"]["number"]
    notify(client, made["payment"])
    centre = client.post(f"/api/v1/orders/{number}/delivery-centre", json={"city": "Beijing"}, headers=me)
    assert centre.status_code == 200 and centre.json()["store"]["code"] == "BJ-DC-01"
    move(
        client,
        number,
        OrderStatus.LOCKED,
        OrderStatus.SCHEDULED,
        OrderStatus.IN_PRODUCTION,
        OrderStatus.BUILT,
    )

    # 3. delivery only once the car has arrived, at the assigned centre
    delivery_slots = client.get(
        "/api/v1/stores/BJ-DC-01/slots", params={"kind": "delivery", "day": day}, headers=me
    ).json()
    body = {
        "kind": "delivery",
        "store_code": "BJ-DC-01",
        # after the test drive: a buyer is in one place at a time, so overlapping slots are refused
        "starts_at": next(
            s["starts_at"] for s in delivery_slots if s["starts_at"] >= drive.json()["ends_at"]
        ),
        "order_number": number,
    }
    early = client.post("/api/v1/appointments", json=body, headers=me)
    assert early.status_code == 422 and "arrived" in early.json()["detail"]
    move(client, number, OrderStatus.IN_TRANSIT, OrderStatus.AT_DELIVERY_CENTRE)
    delivery = client.post("/api/v1/appointments", json=body, headers=me)
    assert delivery.status_code == 201, delivery.text
    appointment_id = delivery.json()["id"]

    # 4. the balance in two parts: online, then at the store's till
    balance = client.get(f"/api/v1/orders/{number}/balance", headers=me).json()
    due = balance["due_fen"]
    assert due == balance["total_fen"] - 500_000 and not balance["settled"]
    online = client.post(
        f"/api/v1/orders/{number}/balance-payments", json={"amount_fen": due - 100_000}, headers=me
    )
    assert online.status_code == 201, online.text
    notify(client, online.json())

    # staff of another store see and change nothing of it
    assert client.get(f"/api/v1/appointments/{appointment_id}", headers=sh).status_code == 404
    assert client.post(f"/api/v1/appointments/{appointment_id}/cancel", headers=sh).status_code == 404
    assert client.get("/api/v1/stores/BJ-DC-01/calendar", params={"day": day}, headers=sh).status_code == 403
    assert client.get(f"/api/v1/orders/{number}/balance", headers=sh).status_code == 404
    pay = {"amount_fen": 100_000, "reference": "POS-7"}
    assert client.post(f"/api/v1/store/orders/{number}/payments", json=pay, headers=sh).status_code == 404
    checklist = {"vin": VIN, "inspection_passed": True, "documents_signed": True}
    assert (
        client.post(f"/api/v1/store/orders/{number}/handover", json=checklist, headers=sh).status_code == 404
    )

    # the centre's own staff see the day and finish the job
    calendar = client.get("/api/v1/stores/BJ-DC-01/calendar", params={"day": day}, headers=bj)
    assert appointment_id in [a["id"] for a in calendar.json()["appointments"]]
    early_handover = client.post(f"/api/v1/store/orders/{number}/handover", json=checklist, headers=bj)
    assert early_handover.status_code == 422 and "not settled" in early_handover.json()["detail"]
    till = client.post(f"/api/v1/store/orders/{number}/payments", json=pay, headers=bj)
    assert till.status_code == 201 and till.json()["provider"] == "store"
    assert client.get(f"/api/v1/orders/{number}/balance", headers=me).json()["settled"] is True
    done = client.post(f"/api/v1/store/orders/{number}/handover", json=checklist, headers=bj)
    assert done.status_code == 200, done.text
    assert client.get(f"/api/v1/orders/{number}", headers=me).json()["status"] == "delivered"
    # the delivery appointment is completed by appointments' reaction to order.delivered (outbox)
    while dispatch(client.app.state.sessions, all_handlers()):  # type: ignore[attr-defined]
        pass
    assert client.get(f"/api/v1/appointments/{appointment_id}", headers=me).json()["status"] == "done"


def test_a_taken_slot_is_409_and_unknown_fields_are_422(
    client: TestClient, world: dict[str, dict[str, str]]
) -> None:
    me, other = world["buyer"], sign_in(client, "13900139000")
    day = (utcnow() + timedelta(days=2)).date().isoformat()
    slot = client.get(
        "/api/v1/stores/SH-ST-01/slots", params={"kind": "test_drive", "day": day, "model": "su7"}, headers=me
    ).json()[0]
    body = {"kind": "test_drive", "store_code": "SH-ST-01", "starts_at": slot["starts_at"], "model": "su7"}
    for _ in range(slot["free"]):
        assert client.post("/api/v1/appointments", json=body, headers=me).status_code == 201
    full = client.post("/api/v1/appointments", json=body, headers=other)
    assert full.status_code == 409 and full.json()["code"] == "capacity-exhausted"
    odd = client.post("/api/v1/appointments", json={**body, "colour": "red"}, headers=me)
    assert odd.status_code == 422 and "colour" in odd.text

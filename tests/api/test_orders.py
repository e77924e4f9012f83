"""The order API over HTTP: reserve, pay through the signed notification endpoint, lock, refund."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carloop.payments.providers.base import NotificationStatus

CONFIG = {"configuration": {"model": "su7", "trim": "pro", "options": []}}


def sign_in(client: TestClient, phone: str) -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def buyer(client: TestClient) -> dict[str, str]:
    return sign_in(client, "13800138000")


def reserve(client: TestClient, headers: dict[str, str], key: str | None = None) -> dict[str, Any]:
    h = dict(headers)
    if key:
        h["Idempotency-Key"] = key
    response = client.post("/api/v1/orders", json=CONFIG, headers=h)
    assert response.status_code == 201, response.text
    return dict(response.json())


def pay(
    client: TestClient, payment: dict[str, Any], status: NotificationStatus = NotificationStatus.SUCCEEDED
) -> dict[str, str]:
    provider = client.app.state.payment_provider  # type: ignore[attr-defined]
    form = provider.signed_notification(
        trade_no=payment["trade_no"], amount_fen=payment["amount_fen"], status=status
    )
    response = client.post("/api/v1/payments/notify/simulator", data=form)
    assert response.status_code == 200, response.text
    assert response.text == "success"
    return dict(form)


def test_reserve_pay_and_refund_over_http(client: TestClient, buyer: dict[str, str]) -> None:
    made = reserve(client, buyer)
    number = made["order"]["number"]
    assert made["order"]["status"] == "pending_payment"
    assert made["payment"]["amount_fen"] == 500_000
    form = pay(client, made["payment"])
    assert client.post("/api/v1/payments/notify/simulator", data=form).text == "success"  # replay
    order = client.get(f"/api/v1/orders/{number}", headers=buyer).json()
    assert order["status"] == "reserved"
    assert order["deposit"]["refundable"] is True and order["deposit"]["refundable_until"]
    refunded = client.post(f"/api/v1/orders/{number}/refund", headers=buyer)
    assert refunded.status_code == 200 and refunded.json()["status"] == "refunded"
    again = client.post(f"/api/v1/orders/{number}/refund", headers=buyer)
    assert again.status_code == 200 and again.json()["status"] == "refunded"
    assert again.json()["deposit"]["not_refundable_reason"] == "refunded"


def test_an_idempotency_key_returns_the_original_order(client: TestClient, buyer: dict[str, str]) -> None:
    key = str(uuid.uuid4())
    first = reserve(client, buyer, key)
    second = client.post("/api/v1/orders", json=CONFIG, headers={**buyer, "Idempotency-Key": key})
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["order"]["number"] == first["order"]["number"]
    assert len(client.get("/api/v1/orders", headers=buyer).json()) == 1


def test_reusing_a_key_for_a_different_request_is_a_conflict(
    client: TestClient, buyer: dict[str, str]
) -> None:
    key = str(uuid.uuid4())
    reserve(client, buyer, key)
    other = {"configuration": {"model": "yu7", "trim": "max", "options": []}}
    response = client.post("/api/v1/orders", json=other, headers={**buyer, "Idempotency-Key": key})
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency-key-reused"


def test_someone_elses_order_is_404(client: TestClient, buyer: dict[str, str]) -> None:
    number = reserve(client, buyer)["order"]["number"]
    stranger = sign_in(client, "13900139000")
    for method, path in (
        ("get", ""),
        ("post", "/refund"),
        ("post", "/lock"),
        ("post", "/cancel"),
        ("post", "/payments"),
    ):
        response = client.request(
            method.upper(),
            f"/api/v1/orders/{number}{path}",
            headers=stranger,
            json={} if path == "/lock" else None,
        )
        assert response.status_code in (404, 422), (path, response.text)
        if response.status_code == 422:
            continue
        assert response.headers["content-type"].startswith("application/problem+json")


def test_early_lock_requires_the_repeated_confirmation(client: TestClient, buyer: dict[str, str]) -> None:
    made = reserve(client, buyer)
    pay(client, made["payment"])
    number = made["order"]["number"]
    wrong = {"acknowledge_non_refundable": True, "deposit_fen": 1, "configuration": "x"}
    response = client.post(f"/api/v1/orders/{number}/lock", json=wrong, headers=buyer)
    assert response.status_code == 422 and response.json()["code"] == "lock-not-confirmed"
    right = {
        "acknowledge_non_refundable": True,
        "deposit_fen": 500_000,
        "configuration": made["order"]["summary"],
    }
    locked = client.post(f"/api/v1/orders/{number}/lock", json=right, headers=buyer)
    assert locked.status_code == 200 and locked.json()["status"] == "locked"
    refused = client.post(f"/api/v1/orders/{number}/refund", headers=buyer)
    assert refused.status_code == 422 and refused.json()["code"] == "deposit-not-refundable"


def test_a_forged_notification_gets_400_and_changes_nothing(
    client: TestClient, buyer: dict[str, str]
) -> None:
    made = reserve(client, buyer)
    form = client.app.state.payment_provider.signed_notification(  # type: ignore[attr-defined]
        trade_no=made["payment"]["trade_no"],
        amount_fen=made["payment"]["amount_fen"],
        status=NotificationStatus.SUCCEEDED,
    )
    form["total_amount"] = "1.00"
    response = client.post("/api/v1/payments/notify/simulator", data=form)
    assert response.status_code == 400
    assert response.json()["code"] == "signature-invalid"
    order = client.get(f"/api/v1/orders/{made['order']['number']}", headers=buyer).json()
    assert order["status"] == "pending_payment"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ('{"configuration": {"model": "su7", "trim": "pro"}, "extra": 1}', 422, "body.extra"),
        ('{"configuration": {"model": "su7"}}', 422, "body.configuration.trim"),
        ('{"configuration": ', 400, None),
        ("[]", 422, "body"),
        ('{"configuration": {"model": "su7", "trim": "nope", "options": []}}', 422, None),
    ],
)
def test_bad_input_gets_a_problem_naming_the_field(
    client: TestClient, buyer: dict[str, str], body: str, status: int, field: str | None
) -> None:
    response = client.post(
        "/api/v1/orders", content=body, headers={**buyer, "Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["status"] == status and problem["detail"]
    if field:
        assert field in [e["field"] for e in problem["errors"]]


def test_anonymous_callers_get_401(client: TestClient) -> None:
    assert client.post("/api/v1/orders", json=CONFIG).status_code == 401
    assert client.get("/api/v1/orders").status_code == 401


def test_staff_search_is_audited_and_store_bound(client: TestClient, buyer: dict[str, str]) -> None:
    reserve(client, buyer)
    from carloop.accounts.demo import seed_demo_accounts

    with client.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
        logins = {login.username: login.secret for login in seed_demo_accounts(session=session)}

    def staff(username: str) -> dict[str, str]:
        token = client.post(
            "/api/v1/auth/staff/sign-in", json={"username": username, "password": logins[username]}
        ).json()["token"]
        return {"Authorization": f"Bearer {token}"}

    assert len(client.get("/api/v1/staff/orders", headers=staff("ops")).json()) == 1
    assert client.get("/api/v1/staff/orders", headers=staff("store1")).json() == []
    assert client.get("/api/v1/staff/orders", headers=buyer).status_code == 403


# --- limited editions: the same per-identity limit as the launch intake ---------------------------

FOUNDERS = {"model": "su7", "trim": "founders", "options": []}


def _id_number(n: int) -> str:
    from carloop.ordering.editions import id_number_with_check

    return id_number_with_check(f"11010519900101{n:03d}")


def test_an_edition_reservation_needs_the_buyers_identity_number(
    client: TestClient, buyer: dict[str, str]
) -> None:
    missing = client.post("/api/v1/orders", json={"configuration": FOUNDERS}, headers=buyer)
    assert missing.status_code == 422 and missing.json()["code"] == "identity-required"
    bad = client.post(
        "/api/v1/orders", json={"configuration": FOUNDERS, "id_number": "110105199001010000"}, headers=buyer
    )
    assert bad.status_code == 422 and bad.json()["code"] == "validation-error"


def test_one_identity_holds_at_most_the_editions_limit_through_the_orders_api(
    client: TestClient, buyer: dict[str, str]
) -> None:
    body = {"configuration": FOUNDERS, "id_number": _id_number(1), "real_name": "张三"}
    first = client.post("/api/v1/orders", json=body, headers={**buyer, "Idempotency-Key": "e1"})
    assert first.status_code == 201, first.text
    # The same request again is a retry, not a second order.
    again = client.post("/api/v1/orders", json=body, headers={**buyer, "Idempotency-Key": "e1"})
    assert again.status_code == 201 and again.json() == first.json()
    # Another reservation for the same person is refused; from another account, the identity is taken.
    second = client.post("/api/v1/orders", json=body, headers={**buyer, "Idempotency-Key": "e2"})
    assert second.status_code == 409, second.text
    assert second.json()["code"] == "edition-limit-reached" and second.json()["limit"] == 1
    other = sign_in(client, "13800138001")
    elsewhere = client.post("/api/v1/orders", json=body, headers={**other, "Idempotency-Key": "e2b"})
    assert elsewhere.status_code == 409 and elsewhere.json()["code"] == "identity-taken"
    # Another person is fine.
    third = client.post(
        "/api/v1/orders",
        json={"configuration": FOUNDERS, "id_number": _id_number(2), "real_name": "张三"},
        headers={**other, "Idempotency-Key": "e3"},
    )
    assert third.status_code == 201, third.text
    # Once the first order ends, its identity may reserve again.
    number = first.json()["order"]["number"]
    cancelled = client.post(f"/api/v1/orders/{number}/cancel", json={}, headers=buyer)
    assert cancelled.status_code == 200, cancelled.text
    fourth = client.post("/api/v1/orders", json=body, headers={**buyer, "Idempotency-Key": "e4"})
    assert fourth.status_code == 201, fourth.text


def test_the_orders_api_and_the_intake_count_one_identity_together(
    client: TestClient, buyer: dict[str, str]
) -> None:
    body = {"configuration": FOUNDERS, "id_number": _id_number(3), "real_name": "张三"}
    taken = client.post("/api/v1/intake/orders", json=body, headers={**buyer, "Idempotency-Key": "i1"})
    assert taken.status_code == 201, taken.text
    refused = client.post("/api/v1/orders", json=body, headers={**buyer, "Idempotency-Key": "a1"})
    assert refused.status_code == 409 and refused.json()["code"] == "edition-limit-reached"


# --- family members and hand-overs ------------------------------------------------------------------


def _edition_order(client: TestClient, headers: dict[str, str], n: int) -> str:
    body = {"configuration": FOUNDERS, "id_number": _id_number(n), "real_name": "张三"}
    response = client.post("/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": f"ed-{n}"})
    assert response.status_code == 201, response.text
    return str(response.json()["order"]["number"])


def test_an_owner_hands_an_edition_order_to_a_listed_family_member_only_after_confirming(
    client: TestClient, buyer: dict[str, str]
) -> None:
    spouse = sign_in(client, "13800138001")
    number = _edition_order(client, buyer, 10)
    spouse_id = client.get("/api/v1/me", headers=spouse).json()["customer_id"]
    # Not listed yet: refused.
    invited = client.post(
        "/api/v1/family", json={"phone": "138 0013 8001", "relation": "spouse"}, headers=buyer
    )
    assert invited.status_code == 202, invited.text
    assert client.get("/api/v1/family", headers=buyer).json() == []  # not family until they accept
    [invitation] = client.get("/api/v1/family/invitations", headers=spouse).json()
    assert invitation["relation"] == "spouse"
    accepted = client.post(f"/api/v1/family/invitations/{invitation['invitation_id']}/accept", headers=spouse)
    assert accepted.status_code == 200, accepted.text
    [member] = client.get("/api/v1/family", headers=buyer).json()
    member_id = member["member_id"]
    assert member_id == spouse_id
    proposed = client.post(
        f"/api/v1/orders/{number}/transfers",
        json={"to_member_id": member_id},
        headers={**buyer, "Idempotency-Key": "t1"},
    )
    assert proposed.status_code == 201, proposed.text
    token = proposed.json()["token"]
    assert proposed.json()["confirmed"] is False
    # Nothing moved yet.
    assert client.get(f"/api/v1/orders/{number}", headers=buyer).status_code == 200
    assert client.get(f"/api/v1/orders/{number}", headers=spouse).status_code == 404
    # Only the owner confirms: the family member cannot confirm it for them.
    assert (
        client.post(f"/api/v1/orders/{number}/transfers/{token}/confirm", headers=spouse).status_code == 404
    )
    confirmed = client.post(
        f"/api/v1/orders/{number}/transfers/{token}/confirm", headers={**buyer, "Idempotency-Key": "c1"}
    )
    assert confirmed.status_code == 200 and confirmed.json()["confirmed"] is True
    again = client.post(
        f"/api/v1/orders/{number}/transfers/{token}/confirm", headers={**buyer, "Idempotency-Key": "c1"}
    )
    assert again.status_code == 200 and again.json() == confirmed.json()
    assert client.get(f"/api/v1/orders/{number}", headers=spouse).status_code == 200
    assert client.get(f"/api/v1/orders/{number}", headers=buyer).status_code == 404


def test_a_hand_over_goes_only_to_listed_family_and_only_from_the_owner(
    client: TestClient, buyer: dict[str, str]
) -> None:
    stranger = sign_in(client, "13800138002")
    number = _edition_order(client, buyer, 11)
    stranger_id = client.get("/api/v1/me", headers=stranger).json()["customer_id"]
    # The stranger invites the buyer: that gives the stranger nothing.
    assert (
        client.post(
            "/api/v1/family", json={"phone": "13800138000", "relation": "friend"}, headers=stranger
        ).status_code
        == 202
    )
    refused = client.post(f"/api/v1/orders/{number}/transfers", json={"to_member_id": 999}, headers=buyer)
    assert refused.status_code == 422 and refused.json()["code"] == "policy-violation"
    # Someone else's order is not found, whatever they ask.
    assert (
        client.post(
            f"/api/v1/orders/{number}/transfers", json={"to_member_id": stranger_id}, headers=stranger
        ).status_code
        == 404
    )
    assert client.post(f"/api/v1/orders/{number}/transfers/nope/confirm", headers=buyer).status_code == 404
    # The buyer invites the stranger, who never accepts: still no hand-over to them.
    client.post("/api/v1/family", json={"phone": "13800138002", "relation": "x"}, headers=buyer)
    unconsented = client.post(
        f"/api/v1/orders/{number}/transfers", json={"to_member_id": stranger_id}, headers=buyer
    )
    assert unconsented.status_code == 422 and unconsented.json()["code"] == "policy-violation"
    assert (
        client.post("/api/v1/family", json={"phone": "12", "relation": "x"}, headers=buyer).status_code == 422
    )
    myself = client.post("/api/v1/family", json={"phone": "13800138000", "relation": "me"}, headers=buyer)
    assert myself.status_code == 422
    assert client.get("/api/v1/family").status_code == 401


def test_the_family_endpoint_does_not_tell_who_has_an_account(
    client: TestClient, buyer: dict[str, str]
) -> None:
    sign_in(client, "13800138003")
    known = client.post("/api/v1/family", json={"phone": "13800138003", "relation": "x"}, headers=buyer)
    unknown = client.post("/api/v1/family", json={"phone": "13900000000", "relation": "x"}, headers=buyer)
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert client.get("/api/v1/family", headers=buyer).json() == []


def test_only_the_invited_person_answers_an_invitation(client: TestClient, buyer: dict[str, str]) -> None:
    invitee = sign_in(client, "13800138004")
    other = sign_in(client, "13800138005")
    client.post("/api/v1/family", json={"phone": "13800138004", "relation": "parent"}, headers=buyer)
    [invitation] = client.get("/api/v1/family/invitations", headers=invitee).json()
    path = f"/api/v1/family/invitations/{invitation['invitation_id']}"
    assert client.post(f"{path}/accept", headers=other).status_code == 404
    assert (
        client.post(f"{path}/accept", headers=buyer).status_code == 404
    )  # the owner cannot consent for them
    assert client.get("/api/v1/family", headers=buyer).json() == []
    assert client.post(f"{path}/decline", headers=invitee).status_code == 204
    assert client.get("/api/v1/family/invitations", headers=invitee).json() == []
    assert client.post(f"{path}/accept", headers=invitee).status_code == 404
    huge = client.post("/api/v1/family/invitations/99999999999999999999/accept", headers=invitee)
    assert huge.status_code in (404, 422)  # never a 500


def test_the_lock_page_shows_the_configuration_in_the_pages_language_and_still_locks(
    client: TestClient, buyer: dict[str, str]
) -> None:
    made = reserve(client, buyer)
    pay(client, made["payment"])
    number, summary_zh = made["order"]["number"], made["order"]["summary_zh"]
    client.cookies.set("carloop_session", buyer["Authorization"].removeprefix("Bearer "))
    page = client.get(f"/orders/{number}/lock?lang=zh-CN", headers={"Accept": "text/html"}).text
    assert f'<td data-testid="lock-summary">{summary_zh}</td>' in page  # was the English summary, CN¥
    form = {
        k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)
    }
    locked = client.post(
        f"/orders/{number}/lock", data={**form, "acknowledge": "true"}, follow_redirects=False
    )
    assert locked.status_code == 303, locked.text
    assert client.get(f"/api/v1/orders/{number}", headers=buyer).json()["status"] == "locked"

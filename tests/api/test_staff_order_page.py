"""The staff order page: timeline, payments and audit trail; support refunds for a buyer with a reason."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.audit.models import AuditEntry
from carloop.network import service as network
from carloop.network.schemas import StoreKind
from carloop.notices import service as notices
from carloop.notices.models import Notice
from carloop.payments.providers.base import NotificationStatus
from carloop.web.deps import csrf_token_for

PASSWORD = "a-long-test-password-1"
HTML = {"Accept": "text/html"}


@pytest.fixture
def staff(client: TestClient) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        store = network.create_store(
            session=s, code="SH-DC-01", kind=StoreKind.DELIVERY_CENTRE, name_en="Shanghai Delivery Centre",
            name_zh="上海交付中心", city="Shanghai", province="Shanghai",
        )  # fmt: skip
        for username, role, sid in (("support", Role.HQ_OPS, None), ("store1", Role.STORE_STAFF, store.id)):
            accounts.create_staff(
                session=s, actor=None, username=username, display_name=username.title(), password=PASSWORD,
                role=role, store_id=sid,
            )  # fmt: skip


def _staff_sign_in(client: TestClient, username: str) -> str:
    client.cookies.clear()
    token = client.post(
        "/api/v1/auth/staff/sign-in", json={"username": username, "password": PASSWORD}
    ).json()["token"]
    client.cookies.set("carloop_session", token)
    return csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]


def _paid_order(client: TestClient) -> str:
    code = client.post("/api/v1/auth/code", json={"phone": "13800138000"}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": "13800138000", "code": code}).json()["token"]
    buyer = {"Authorization": f"Bearer {token}"}
    made: dict[str, Any] = client.post(
        "/api/v1/orders",
        json={"configuration": {"model": "su7", "trim": "pro", "options": []}},
        headers=buyer,
    ).json()
    payment = made["payment"]
    provider = client.app.state.payment_provider  # type: ignore[attr-defined]
    form = provider.signed_notification(
        trade_no=payment["trade_no"], amount_fen=payment["amount_fen"], status=NotificationStatus.SUCCEEDED
    )
    assert client.post("/api/v1/payments/notify/simulator", data=form).text == "success"
    return str(made["order"]["number"])


@pytest.mark.usefixtures("staff")
def test_support_refunds_a_buyers_deposit_with_a_reason_and_the_buyer_is_told(client: TestClient) -> None:
    number = _paid_order(client)
    csrf = _staff_sign_in(client, "support")
    search = client.get(f"/staff/orders?q={number}&lang=zh-CN", headers=HTML)
    assert f'href="/staff/orders/{number}"' in search.text
    page = client.get(f"/staff/orders/{number}?lang=zh-CN", headers=HTML)
    assert page.status_code == 200
    for text in ("订单进度", "审计记录", "代客户操作", "已预订"):
        assert text in page.text, text
    no_reason = client.post(
        f"/staff/orders/{number}/on-behalf", data={"csrf_token": csrf, "action": "refund", "reason": " "},
        headers=HTML,
    )  # fmt: skip
    assert no_reason.status_code == 422 and "请说明代客户操作的原因" in no_reason.text
    forged = client.post(
        f"/staff/orders/{number}/on-behalf", data={"csrf_token": "x", "action": "refund", "reason": "phone"},
        headers=HTML,
    )  # fmt: skip
    assert forged.status_code == 403
    done = client.post(
        f"/staff/orders/{number}/on-behalf",
        data={"csrf_token": csrf, "action": "refund", "reason": "Buyer called: changed their mind"},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = client.get(f"/staff/orders/{number}?lang=en", headers=HTML)
    assert 'data-status="refunded"' in page.text and "Buyer called: changed their mind" in page.text
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "order.refund.on_behalf")).one()
        assert entry.target_id == number and entry.detail["reason"] == "Buyer called: changed their mind"
        notice = s.scalars(select(Notice).where(Notice.key.like("network:support:%"))).one()
        assert "客服退款" in notice.subject_zh and "by customer support" in notice.subject_en
        assert "changed their mind" in notice.body_en and "changed their mind" in notice.body_zh
        buyer_id = notice.customer_id
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        notices.notify(  # a forum mention is the buyer's own business, not the order's
            session=s, customer_id=buyer_id, kind="mentioned", key="community:mentioned:1:0:t",
            source="community", subject=("Winter range tips",) * 2, body=("You were mentioned.",) * 2,
            link="/community/forum/posts/1",
        )  # fmt: skip
    page = client.get(f"/staff/orders/{number}?lang=en", headers=HTML)
    assert "by customer support" in page.text and "Winter range tips" not in page.text


@pytest.mark.usefixtures("staff")
def test_another_stores_staff_cannot_open_or_act_on_the_order(client: TestClient) -> None:
    number = _paid_order(client)  # no delivery centre assigned: not this store's order
    csrf = _staff_sign_in(client, "store1")
    assert client.get(f"/staff/orders/{number}", headers=HTML).status_code == 404
    refused = client.post(
        f"/staff/orders/{number}/on-behalf",
        data={"csrf_token": csrf, "action": "refund", "reason": "please"},
        headers=HTML,
    )
    assert refused.status_code == 404


@pytest.mark.usefixtures("staff")
def test_hq_moves_a_locked_order_through_production_stages_from_the_page(client: TestClient) -> None:
    from builders.production import publish_sample_plan

    from carloop.handlers import all_handlers
    from carloop.ordering import service as ordering
    from carloop.ordering.rules import OrderStatus
    from carloop.outbox.service import dispatch

    number = _paid_order(client)
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    publish_sample_plan(sessions)
    with sessions.begin() as s:
        order = ordering.load(session=s, number=number)
        ordering.advance(session=s, order=order, target=OrderStatus.LOCKED, actor="test", reason="test")
    dispatch(sessions, all_handlers())  # production schedules the locked order
    csrf = _staff_sign_in(client, "support")
    page = client.get(f"/staff/orders/{number}?lang=zh-CN", headers=HTML)
    assert "生产阶段" in page.text and 'data-status="scheduled"' in page.text
    for stage in ("in_production", "built"):
        moved = client.post(
            f"/staff/orders/{number}/stage",
            data={"csrf_token": csrf, "stage": stage},
            headers=HTML,
            follow_redirects=False,
        )
        assert moved.status_code == 303, moved.text
    page = client.get(f"/staff/orders/{number}?lang=zh-CN", headers=HTML)
    assert 'data-status="built"' in page.text and "production.stage" in page.text
    store_csrf = _staff_sign_in(client, "store1")
    refused = client.post(
        f"/staff/orders/{number}/stage", data={"csrf_token": store_csrf, "stage": "in_transit"}, headers=HTML
    )
    assert refused.status_code in (403, 404)

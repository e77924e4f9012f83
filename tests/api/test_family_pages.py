"""Family pages: invite by phone (same answer for unknown numbers), accept, propose and confirm a
hand-over; someone else's order or invitation is a 404; every page is in Chinese."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from test_change_pages import HTML, _locked_order, _sign_in

from carloop.ordering.models import Order


def test_an_owner_invites_family_and_hands_an_order_over_in_two_steps(client: TestClient) -> None:
    _sign_in(client, "13900139000")  # the family member has an account
    owner, csrf = _sign_in(client, "13800138000")
    number = _locked_order(client, owner)
    page = client.get("/family?lang=zh-CN", headers=HTML)
    assert page.status_code == 200 and "家庭成员" in page.text
    for phone in ("13900139000", "13700137000"):  # known and unknown numbers get the same answer
        sent = client.post(
            "/family/invite",
            data={"csrf_token": csrf, "phone": phone, "relation": "spouse"},
            follow_redirects=False,
        )
        assert sent.status_code == 303 and sent.headers["location"] == "/family?sent=1"
    bad = client.post("/family/invite?lang=zh-CN", data={"csrf_token": csrf, "phone": "12", "relation": "x"})
    assert bad.status_code == 422 and "请输入 11 位手机号码" in bad.text

    _, member_csrf = _sign_in(client, "13900139000")
    invitations = client.get("/family?lang=zh-CN", headers=HTML).text
    invitation = re.search(r"/family/invitations/(\d+)/accept", invitations)
    assert invitation is not None and "邀请您成为家庭成员（配偶）" in invitations
    assert (
        client.post(
            f"/orders/{number}/transfer", data={"csrf_token": member_csrf, "to_member_id": "1"}
        ).status_code
        == 404
    )
    accepted = client.post(
        f"/family/invitations/{invitation.group(1)}/accept",
        data={"csrf_token": member_csrf},
        follow_redirects=False,
    )
    assert accepted.status_code == 303

    _, csrf = _sign_in(client, "13800138000")
    members = client.get("/family", headers=HTML).text
    to_member = re.search(
        r'<option value="(\d+)">', members.split("transfer-propose")[0].split("/transfer")[-1]
    )
    assert to_member is not None
    proposed = client.post(
        f"/orders/{number}/transfer",
        data={"csrf_token": csrf, "to_member_id": to_member.group(1)},
        follow_redirects=False,
    )
    assert proposed.status_code == 303
    pending = client.get("/family?lang=zh-CN", headers=HTML).text
    token = re.search(rf"/orders/{number}/transfer/([^/]+)/confirm", pending)
    assert token is not None and "即将转给" in pending
    unticked = client.post(f"/orders/{number}/transfer/{token.group(1)}/confirm", data={"csrf_token": csrf})
    assert unticked.status_code == 422
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        before = s.scalar(select(Order.customer_id).where(Order.number == number))
    done = client.post(
        f"/orders/{number}/transfer/{token.group(1)}/confirm",
        data={"csrf_token": csrf, "acknowledge": "true"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        assert (
            s.scalar(select(Order.customer_id).where(Order.number == number))
            == int(to_member.group(1))
            != before
        )
    assert client.get(f"/orders/{number}", headers=HTML).status_code == 404  # no longer the owner's

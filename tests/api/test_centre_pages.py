"""Delivery-centre pages: a buyer picks their order's centre by city; HQ rebalances, store staff cannot."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from test_change_pages import HTML, _locked_order, _sign_in
from test_outlet_pages import _sign_in as _staff_sign_in
from test_outlet_pages import staff  # noqa: F401 - the fixture

from carloop.network import service as network


@pytest.fixture
def sample_network(client: TestClient) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        network.seed_sample_network(session=s)


@pytest.mark.usefixtures("sample_network")
def test_a_buyer_chooses_the_nearest_centre_for_their_city_and_no_one_else_can(client: TestClient) -> None:
    buyer, csrf = _sign_in(client, "13800138000")
    number = _locked_order(client, buyer)
    page = client.get(f"/orders/{number}/centre?lang=zh-CN", headers=HTML)
    assert page.status_code == 200 and "尚未选择交付中心" in page.text
    unknown = client.post(
        f"/orders/{number}/centre", data={"csrf_token": csrf, "city": "Atlantis"}, headers=HTML
    )
    assert unknown.status_code == 422 and 'data-testid="centre-error"' in unknown.text
    chosen = client.post(
        f"/orders/{number}/centre",
        data={"csrf_token": csrf, "city": "Beijing"},
        headers=HTML,
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    after = client.get(f"/orders/{number}/centre?lang=zh-CN", headers=HTML)
    assert "尚未选择交付中心" not in after.text and "北京" in after.text
    _, other_csrf = _sign_in(client, "13900139000")
    assert client.get(f"/orders/{number}/centre", headers=HTML).status_code == 404
    taken = client.post(
        f"/orders/{number}/centre", data={"csrf_token": other_csrf, "city": "Beijing"}, headers=HTML
    )
    assert taken.status_code == 404


@pytest.mark.usefixtures("staff")
def test_hq_sees_centre_load_and_store_staff_may_not_rebalance(client: TestClient) -> None:
    csrf = _staff_sign_in(client, "hq")
    listed = client.get("/staff/centres?lang=zh-CN", headers=HTML)
    assert listed.status_code == 200 and "SH-DC-01" in listed.text and "未完成订单" in listed.text
    done = client.post("/staff/centres/SH-DC-01/rebalance", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    csrf = _staff_sign_in(client, "cust")
    assert "SH-DC-01" not in client.get("/staff/centres", headers=HTML).text
    refused = client.post("/staff/centres/SH-DC-01/rebalance", data={"csrf_token": csrf}, headers=HTML)
    assert refused.status_code == 403

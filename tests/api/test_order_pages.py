"""Order pages send anonymous browsers to sign in and refuse forms without the anti-forgery token."""

from __future__ import annotations

from fastapi.testclient import TestClient

HTML = {"Accept": "text/html"}


def test_an_anonymous_browser_is_sent_to_sign_in_and_back(client: TestClient) -> None:
    response = client.get("/checkout?model=su7&trim=pro", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcheckout%3Fmodel%3Dsu7%26trim%3Dpro"


def test_an_anonymous_form_post_returns_to_the_page_it_came_from(client: TestClient) -> None:
    response = client.post(
        "/orders/SU7-XXXX/refund",
        data={"csrf_token": "x"},
        headers={**HTML, "Referer": "http://testserver/orders/SU7-XXXX"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Forders%2FSU7-XXXX"


def test_a_form_without_the_right_token_is_refused(client: TestClient) -> None:
    code = client.post("/api/v1/auth/code", json={"phone": "13800138000"}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": "13800138000", "code": code}).json()["token"]
    client.cookies.set("carloop_session", token)
    response = client.post(
        "/orders",
        data={"model": "su7", "trim": "pro", "form_key": "k" * 16, "csrf_token": "forged"},
        headers=HTML,
    )
    assert response.status_code == 403
    assert client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"}).json() == []

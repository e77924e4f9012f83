"""Domain error messages reach buyers in their language: problem+json by Accept-Language, pages by locale."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _sign_in(client: TestClient, phone: str) -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_problem_detail_follows_accept_language(client: TestClient) -> None:
    buyer = _sign_in(client, "13800138000")
    zh = client.get("/api/v1/orders/CL-NOPE", headers={**buyer, "Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.status_code == 404 and zh.headers["content-type"].startswith("application/problem+json")
    assert zh.json()["detail"] == "没有订单 CL-NOPE。" and zh.json()["code"] == "not-found"
    en = client.get("/api/v1/orders/CL-NOPE", headers={**buyer, "Accept-Language": "en-GB"})
    assert en.json()["detail"] == "No order CL-NOPE."
    plain = client.get("/api/v1/orders/CL-NOPE", headers=buyer)  # a client that states no language
    assert plain.json()["detail"] == "No order CL-NOPE."


def test_a_validation_problem_is_translated_too(client: TestClient) -> None:
    buyer = _sign_in(client, "13800138000")
    response = client.post(
        "/api/v1/orders",
        content=b"{not json",
        headers={**buyer, "Content-Type": "application/json", "Accept-Language": "zh-CN"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "请求内容不是有效的 JSON（第 1 行第 2 列）。"


def test_an_error_page_in_chinese_has_no_english_message(client: TestClient) -> None:
    client.cookies.set("carloop_session", _sign_in(client, "13800138000")["Authorization"].split()[1])
    page = client.get("/orders/CL-NOPE?lang=zh-CN", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "没有订单 CL-NOPE。" in page.text and "未找到" in page.text
    assert "No order" not in page.text and "Not Found" not in page.text
    english = client.get("/orders/CL-NOPE?lang=en", headers={"Accept": "text/html"})
    assert "No order CL-NOPE." in english.text and "Not Found" in english.text


def test_the_order_page_headline_is_chinese_with_yuan_on_zh_pages(client: TestClient) -> None:
    buyer = _sign_in(client, "13800138000")
    config = {"configuration": {"model": "su7", "trim": "pro", "options": ["paint-verdant-green"]}}
    made = client.post("/api/v1/orders", json=config, headers=buyer)
    assert made.status_code == 201, made.text
    number = made.json()["order"]["number"]
    client.cookies.set("carloop_session", buyer["Authorization"].split()[1])
    zh = client.get(f"/orders/{number}?lang=zh-CN", headers={"Accept": "text/html"})
    assert zh.status_code == 200
    headline = zh.text.split("<h2>", 1)[1].split("</h2>", 1)[0]
    assert "Verdant" not in headline and "CN¥" not in headline and "¥" in headline
    en = client.get(f"/orders/{number}?lang=en", headers={"Accept": "text/html"})
    assert "Verdant Green" in en.text.split("<h2>", 1)[1].split("</h2>", 1)[0]


def test_a_configuration_problem_reads_in_chinese(client: TestClient) -> None:
    buyer = _sign_in(client, "13800138000")
    config = {
        "configuration": {"model": "su7", "trim": "pro", "options": ["paint-aqua-blue", "paint-pearl-white"]}
    }
    response = client.post("/api/v1/orders", json=config, headers={**buyer, "Accept-Language": "zh-CN"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail and not any(word in detail for word in ("Aqua", "Pearl", "choose"))

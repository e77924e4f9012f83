"""The notice pages: my inbox in the language I chose, and the preference form (zh-CN and en, CSRF,
a wrong address named in the reader's language)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.notices import service as notices

HTML = {"Accept": "text/html"}


def sign_in(client: TestClient, phone: str = "13800138000") -> None:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    client.cookies.set("carloop_session", token)


def _csrf(client: TestClient, locale: str) -> tuple[str, str]:
    page = client.get("/me/notice-settings", headers={**HTML, "Accept-Language": locale}).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return page, token.group(1)


def test_the_settings_page_speaks_both_languages_and_checks_its_token(client: TestClient) -> None:
    sign_in(client)
    page, token = _csrf(client, "zh-CN")
    assert "通知方式" in page and "短信通知" in page
    english, _ = _csrf(client, "en")
    assert "How I get notices" in english and "Text messages" in english
    forged = client.post(
        "/me/notice-settings",
        data={"locale": "en", "csrf_token": "forged"},
        headers={**HTML, "Accept-Language": "zh-CN"},
    )
    assert forged.status_code == 403
    wrong = client.post(
        "/me/notice-settings",
        data={"locale": "zh_CN", "email": "not an address", "email_on": "1", "csrf_token": token},
        headers={**HTML, "Accept-Language": "zh-CN"},
    )
    assert wrong.status_code == 422 and "请输入有效的电子邮箱地址" in wrong.text
    saved = client.post(
        "/me/notice-settings",
        data={"locale": "en", "email": "anna@example.com", "email_on": "1", "csrf_token": token},
        headers=HTML,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    again, _ = _csrf(client, "en")
    assert 'value="anna@example.com"' in again and '<option value="en" selected>' in again
    assert 'name="sms_on" value="1"  data-testid' in again  # SMS was left unticked: off now


def test_the_inbox_shows_each_notice_in_the_readers_language(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client)
    with session_factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone="13800138000")
        notices.notify(
            session=session,
            customer_id=customer.id,
            kind="window_later",
            key="test:1",
            source="production",
            body=("Expected delivery moved to March.", "预计交付时间调整至三月。"),
            order_number="CL-2026-0001",
        )
    chinese = client.get("/me/notices", headers={**HTML, "Accept-Language": "en"}).text
    assert (
        "预计交付时间调整至三月。" in chinese and "CL-2026-0001" in chinese
    )  # the default language: Chinese
    with session_factory.begin() as session:
        notices.set_preferences(
            session=session, customer_id=customer.id, locale="en", email="", email_on=False, sms_on=True
        )
    english = client.get("/me/notices", headers={**HTML, "Accept-Language": "zh-CN"}).text
    assert "Expected delivery moved to March." in english and "我的通知" in english
    assert client.get("/me/notices", headers=HTML, follow_redirects=False).status_code in (200, 303)


def test_the_inbox_is_only_for_signed_in_owners(client: TestClient) -> None:
    assert client.get("/me/notices", headers=HTML, follow_redirects=False).status_code in (303, 401)

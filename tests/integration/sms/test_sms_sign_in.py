"""Sign-in by SMS with production settings: the code goes through Alibaba Cloud or Tencent Cloud SMS
(played by local stand-ins that check the request signatures), never into a log line or the database,
and a provider's refusal reaches the buyer as a clear, translated problem."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from stand_ins.sms import SmsStandIn

from carloop.settings import Settings
from carloop.sms.models import SmsMessage

PHONE = "+8613800138000"
LOCAL = "13800138000"


def _pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def production(database_url: str, sms: SmsStandIn, **extra: Any) -> Settings:
    """Production settings with the SMS stand-in and an Alipay configuration (keys made up here)."""
    private, public = _pem_pair()
    values: dict[str, Any] = {
        "environment": "production",
        "database_url": database_url,
        "secret_key": "sms-test-secret-key-0123456789abcdef",
        "payment_provider": "alipay",
        "alipay_app_id": "2021000000000042",
        "alipay_app_private_key": private,
        "alipay_public_key": public,
        "public_base_url": "https://shop.carloop.test",
        "realname_verifier": "tencent",  # production refuses the stand-in verifier (never called here)
        "realname_tencent_secret_id": "AKID-sms-test",
        "realname_tencent_secret_key": "sms-test-faceid-key",
        "einvoice_provider": "disabled",  # production refuses the e-invoice stand-in
        "outbox_interval": 0,
        "jobs_tick": 0,
        **sms.settings(),
        **extra,
    }
    return Settings(**values)


@pytest.fixture
def shop(database_url: str, engine: Engine, sms_standin: SmsStandIn) -> Iterator[TestClient]:
    """The production app sending codes through the stand-in."""
    from carloop.web.app import create_app

    app = create_app(production(database_url, sms_standin))
    with TestClient(app, base_url="https://shop.carloop.test", raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


def _csrf(client: TestClient, locale: str = "zh-CN") -> str:
    form = client.get("/login", headers={"Accept": "text/html", "Accept-Language": locale}).text
    found = re.search(r'name="login_csrf" value="([^"]+)"', form)
    assert found
    return found.group(1)


def test_a_buyer_signs_in_with_the_code_from_the_text_message(
    shop: TestClient, sms_standin: SmsStandIn, session_factory: sessionmaker[Session]
) -> None:
    token = _csrf(shop)
    page = shop.post(
        "/login/code", data={"phone": LOCAL, "login_csrf": token}, headers={"Accept": "text/html"}
    )
    assert page.status_code == 200 and 'data-testid="dev-code"' not in page.text
    [message] = sms_standin.to(PHONE)
    assert message.template == sms_standin.templates["login_code"] and message.params["minutes"] == "5"
    code = sms_standin.last_code(PHONE)
    signed_in = shop.post(
        "/login", data={"phone": LOCAL, "code": code, "login_csrf": token}, follow_redirects=False
    )
    assert signed_in.status_code == 303 and "carloop_session" in signed_in.cookies
    with session_factory() as session:
        [row] = session.scalars(select(SmsMessage)).all()
    assert (row.provider, row.status, row.purpose) == (sms_standin.provider, "sent", "login_code")
    assert row.provider_message_id and code not in " ".join(str(v) for v in vars(row).values())


def test_the_api_sends_the_code_by_sms_and_never_returns_it(
    shop: TestClient, sms_standin: SmsStandIn
) -> None:
    reply = shop.post("/api/v1/auth/code", json={"phone": LOCAL})
    assert reply.status_code == 202 and "dev_code" not in reply.json()
    code = sms_standin.last_code(PHONE)
    token = shop.post("/api/v1/auth/sign-in", json={"phone": LOCAL, "code": code})
    assert token.status_code == 200 and token.json()["token"]


def test_an_english_reader_gets_the_english_template(shop: TestClient, sms_standin: SmsStandIn) -> None:
    token = _csrf(shop, "en")
    shop.post("/login/code", data={"phone": LOCAL, "login_csrf": token}, headers={"Accept-Language": "en"})
    assert sms_standin.to(PHONE)[-1].template == sms_standin.templates["login_code:en"]


def test_the_code_is_in_no_log_line(
    shop: TestClient, sms_standin: SmsStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        shop.post("/api/v1/auth/code", json={"phone": LOCAL})
    code = sms_standin.last_code(PHONE)
    lines = [record.getMessage() for record in caplog.records]
    assert any("login_code" in line for line in lines)  # the send itself is logged...
    assert not [line for line in lines if code in line]  # ...without the code
    assert not [line for line in lines if LOCAL in line]  # ...and with the number masked


def test_a_provider_outage_is_a_clear_translated_problem_and_the_old_code_stays_good(
    shop: TestClient, sms_standin: SmsStandIn, session_factory: sessionmaker[Session]
) -> None:
    shop.post("/api/v1/auth/code", json={"phone": LOCAL})
    first = sms_standin.last_code(PHONE)
    sms_standin.outage = 1
    reply = shop.post("/api/v1/auth/code", json={"phone": LOCAL}, headers={"Accept-Language": "zh-CN"})
    assert reply.status_code == 503 and reply.headers["content-type"].startswith("application/problem+json")
    problem = reply.json()
    assert problem["type"].endswith("/message-not-sent") and "短信服务暂时无法响应" in problem["detail"]
    sms_standin.outage = 1
    token = _csrf(shop, "en")
    page = shop.post(
        "/login/code", data={"phone": LOCAL, "login_csrf": token}, headers={"Accept-Language": "en"}
    )
    assert page.status_code == 503 and "the SMS service is not answering" in page.text
    with session_factory() as session:
        statuses = [row.status for row in session.scalars(select(SmsMessage).order_by(SmsMessage.id))]
    assert statuses == ["sent", "failed", "failed"]
    signed_in = shop.post("/api/v1/auth/sign-in", json={"phone": LOCAL, "code": first})
    assert signed_in.status_code == 200


def test_a_number_the_provider_refuses_is_named_as_such(shop: TestClient, sms_standin: SmsStandIn) -> None:
    sms_standin.refuse = (
        "isv.MOBILE_NUMBER_ILLEGAL"
        if sms_standin.provider == "aliyun"
        else "InvalidParameterValue.IncorrectPhoneNumber"
    )
    reply = shop.post("/api/v1/auth/code", json={"phone": LOCAL}, headers={"Accept-Language": "zh-CN"})
    assert reply.status_code == 422 and "无法向该号码发送" in reply.json()["detail"]


def test_messages_to_one_phone_are_limited_in_the_database(
    database_url: str, engine: Engine, sms_standin: SmsStandIn
) -> None:
    from carloop.web.app import create_app

    app = create_app(production(database_url, sms_standin, sms_per_phone_window=2))
    with TestClient(app, base_url="https://shop.carloop.test", raise_server_exceptions=False) as client:
        answers = [
            client.post(
                "/api/v1/auth/code", json={"phone": LOCAL}, headers={"X-Carloop-Device": f"device-{i:016d}"}
            )
            for i in range(3)
        ]
    app.state.engine.dispose()
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert "Retry-After" in answers[2].headers and len(sms_standin.to(PHONE)) == 2


def test_a_wrong_key_is_refused_by_the_stand_in_as_by_the_provider(
    database_url: str, engine: Engine, sms_standin: SmsStandIn
) -> None:
    from carloop.web.app import create_app

    app = create_app(production(database_url, sms_standin, sms_access_key_secret="not-the-secret"))
    with TestClient(app, base_url="https://shop.carloop.test", raise_server_exceptions=False) as client:
        reply = client.post("/api/v1/auth/code", json={"phone": LOCAL}, headers={"Accept-Language": "en"})
    app.state.engine.dispose()
    assert reply.status_code == 503 and "SMS settings are wrong" in reply.json()["detail"]
    assert sms_standin.received == []
    assert sms_standin.refused == [
        "SignatureDoesNotMatch" if sms_standin.provider == "aliyun" else "AuthFailure.SignatureFailure"
    ]

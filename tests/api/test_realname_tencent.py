"""Buying a numbered edition with Tencent Cloud FaceID as the real-name verifier (its API played by a local
stand-in that checks TC3 signatures): the checkout form asks for name and number in zh-CN and en, a
verified identity binds the account and is not sent to FaceID again, refusals and outages are problems."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from stand_ins.tencent_cloud import TencentCloud

from carloop.accounts.faceid import TencentFaceIdVerifier
from carloop.ordering.editions import id_number_with_check
from carloop.settings import Settings

HTML = {"Accept": "text/html"}
FOUNDERS = {"model": "su7", "trim": "founders", "options": []}
SECRET_ID = "AKIDcarlooptest"
SECRET_KEY = secrets.token_urlsafe(32)  # generated per run
WANG = id_number_with_check("11010519880808123")
ZHAO = id_number_with_check("44030419920315456")


@pytest.fixture
def cloud(client: TestClient) -> Iterator[TencentCloud]:
    """FaceID's stand-in, and the app's verifier pointed at it (the adapter production uses)."""
    stand_in = TencentCloud(SECRET_ID, SECRET_KEY, {WANG: "王五", ZHAO: "赵六"}).start()
    client.app.state.realname_verifier = TencentFaceIdVerifier(  # type: ignore[attr-defined]
        secret_id=SECRET_ID, secret_key=SECRET_KEY, region="ap-shanghai", endpoint=stand_in.endpoint
    )
    yield stand_in
    stand_in.stop()


def sign_in(client: TestClient, phone: str) -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    client.cookies.set("carloop_session", token)
    return {"Authorization": f"Bearer {token}"}


def _reserve(client: TestClient, who: dict[str, str], key: str, **identity: str) -> Any:
    body = {"configuration": FOUNDERS, **identity}
    return client.post("/api/v1/orders", json=body, headers={**who, "Idempotency-Key": key})


def _form(client: TestClient, lang: str) -> tuple[str, dict[str, str]]:
    page = client.get(f"/checkout?model=su7&trim=founders&lang={lang}", headers=HTML).text
    form = page[page.index('data-testid="reserve-form"') :]
    form = form[: form.index("</form>")]
    return form, dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))


def test_the_api_binds_a_verified_identity_and_does_not_ask_faceid_again(
    client: TestClient, cloud: TencentCloud
) -> None:
    buyer = sign_in(client, "13700137000")
    first = _reserve(client, buyer, "a", id_number=WANG, real_name="王五")
    assert first.status_code == 201, first.text
    assert cloud.calls == [("IdCardVerification", WANG)]
    # The bound number again (the name is not needed then): FaceID is not called; the limit applies.
    again = _reserve(client, buyer, "b", id_number=WANG)
    assert again.status_code == 409 and again.json()["code"] == "edition-limit-reached"
    assert len(cloud.calls) == 1


def test_a_mismatch_is_a_translated_problem_and_binds_nothing(
    client: TestClient, cloud: TencentCloud
) -> None:
    buyer = sign_in(client, "13700137001")
    wrong = client.post(
        "/api/v1/orders",
        json={"configuration": FOUNDERS, "id_number": WANG, "real_name": "李四"},
        headers={**buyer, "Idempotency-Key": "m1", "Accept-Language": "zh-CN"},
    )
    assert wrong.status_code == 422 and wrong.headers["content-type"].startswith("application/problem+json")
    problem = wrong.json()
    assert (problem["code"], problem["field"], problem["reason"]) == (
        "realname-refused",
        "real_name",
        "mismatch",
    )
    assert problem["detail"] == "姓名与身份证号码不一致。"
    unknown = _reserve(
        client, buyer, "m2", id_number=id_number_with_check("11010519700101000"), real_name="李四"
    )
    assert unknown.status_code == 422 and unknown.json()["reason"] == "not-found"
    nameless = _reserve(client, buyer, "m3", id_number=ZHAO)
    assert nameless.status_code == 422 and nameless.json()["code"] == "realname-required"
    # Nothing was bound by the refusals: the account's own identity still verifies and binds.
    assert _reserve(client, buyer, "m4", id_number=ZHAO, real_name="赵六").status_code == 201


def test_faceid_down_or_unreachable_is_a_503_problem_never_a_500(
    client: TestClient, cloud: TencentCloud
) -> None:
    buyer = sign_in(client, "13700137002")
    cloud.down()
    down = client.post(
        "/api/v1/orders",
        json={"configuration": FOUNDERS, "id_number": WANG, "real_name": "王五"},
        headers={**buyer, "Idempotency-Key": "d1", "Accept-Language": "en"},
    )
    assert down.status_code == 503 and down.headers["content-type"].startswith("application/problem+json")
    assert down.json()["code"] == "realname-unavailable" and int(down.headers["retry-after"]) > 0
    assert "unavailable" in down.json()["detail"]
    cloud.stop()
    gone = client.post(
        "/api/v1/orders",
        json={"configuration": FOUNDERS, "id_number": WANG, "real_name": "王五"},
        headers={**buyer, "Idempotency-Key": "d2", "Accept-Language": "zh-CN"},
    )
    assert gone.status_code == 503 and gone.json()["detail"].startswith("实名核验服务暂时不可用")
    assert client.get("/api/v1/orders", headers=buyer).json() == []


def test_the_intake_lane_verifies_off_the_event_loop_and_skips_a_bound_identity(
    client: TestClient, cloud: TencentCloud
) -> None:
    buyer = sign_in(client, "13700137003")
    front = client  # the served stack: the intake lane in front of the app
    url = "/api/v1/intake/orders"
    wrong = {"configuration": FOUNDERS, "id_number": WANG, "real_name": "李四"}
    refused = front.post(url, json=wrong, headers={**buyer, "Idempotency-Key": "l0"})
    assert refused.status_code == 422 and refused.json()["code"] == "realname-refused"
    body = {"configuration": FOUNDERS, "id_number": WANG, "real_name": "王五"}
    made = front.post(url, json=body, headers={**buyer, "Idempotency-Key": "l1"})
    assert made.status_code == 201, made.text
    calls = len(cloud.calls)
    again = front.post(url, json=body, headers={**buyer, "Idempotency-Key": "l2"})
    assert again.status_code == 409 and len(cloud.calls) == calls
    anonymous = front.post(url, json=body, headers={"Idempotency-Key": "l3"})
    assert anonymous.status_code == 401
    cloud.down()
    other = sign_in(client, "13700137004")
    down = front.post(
        url,
        json={**body, "id_number": ZHAO, "real_name": "赵六"},
        headers={**other, "Idempotency-Key": "l4"},
    )
    assert down.status_code == 503 and down.json()["code"] == "realname-unavailable"
    assert len(cloud.calls) == calls + 1  # only the outage's call; never the anonymous one


@pytest.mark.parametrize(
    ("lang", "name_label", "verified"),
    [
        ("zh-CN", "姓名（与身份证一致）", "您的身份已核验并绑定此账户"),
        ("en", "Full name, as on your identity card", "Your identity is verified and bound to this account"),
    ],
)
def test_the_checkout_form_asks_for_name_and_number_then_says_verified(
    client: TestClient, cloud: TencentCloud, lang: str, name_label: str, verified: str
) -> None:
    sign_in(client, "13700137005")
    form, fields = _form(client, lang)
    assert name_label in form and 'name="real_name"' in form and 'name="id_number"' in form
    assert 'data-testid="identity-verified"' not in form
    wrong = client.post("/orders", data={**fields, "id_number": WANG, "real_name": "李四"}, headers=HTML)
    assert wrong.status_code == 422 and 'data-testid="reserve-error"' in wrong.text
    assert ("姓名与身份证号码不一致。" if lang == "zh-CN" else "The name does not match") in wrong.text
    made = client.post(
        "/orders",
        data={**fields, "id_number": WANG, "real_name": "王五"},
        headers=HTML,
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    calls = len(cloud.calls)
    form, fields = _form(client, lang)  # bound now: no name or number asked, and it says so
    assert verified in form and 'name="real_name"' not in form and 'name="id_number"' not in form
    second = client.post("/orders", data=fields, headers=HTML)  # the binding counts: one per identity
    assert second.status_code == 409 and 'data-testid="reserve-error"' in second.text
    assert len(cloud.calls) == calls


def test_the_checkout_form_says_when_faceid_is_down(client: TestClient, cloud: TencentCloud) -> None:
    sign_in(client, "13700137006")
    _, fields = _form(client, "zh-CN")
    cloud.stop()
    down = client.post("/orders", data={**fields, "id_number": WANG, "real_name": "王五"}, headers=HTML)
    assert down.status_code == 503 and "实名核验服务暂时不可用" in down.text
    assert 'name="real_name"' in down.text  # the form is there to try again


def test_production_refuses_the_stand_in_and_a_tencent_verifier_without_its_key() -> None:
    real = {
        "environment": "production",
        "secret_key": "k" * 40,
        "payment_provider": "alipay",
        "public_base_url": "https://shop.example",
        "einvoice_provider": "disabled",  # production refuses the e-invoice stand-in
    }
    with pytest.raises(ValueError, match="CARLOOP_REALNAME_VERIFIER=standin checks only"):
        Settings(**real)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="CARLOOP_REALNAME_TENCENT_SECRET_ID"):
        Settings(**real, realname_verifier="tencent")  # type: ignore[arg-type]
    fine = Settings(
        **real,  # type: ignore[arg-type]
        realname_verifier="tencent",
        realname_tencent_secret_id=SECRET_ID,
        realname_tencent_secret_key=SECRET_KEY,
        sms_provider="tencent",  # production also needs an SMS provider for sign-in codes
        sms_access_key_id="AKIDsms",
        sms_access_key_secret="sms-key",
        sms_app_id="1400000001",
        sms_sign_name="卡路智行",
        sms_templates={"login_code": "100001", "registration_code": "100001"},
    )
    assert fine.realname_verifier == "tencent"
    with pytest.raises(ValueError, match="must be https in production"):
        fine.model_validate({**fine.model_dump(), "realname_tencent_endpoint": "http://faceid.example.com"})
    for local in ("http://127.0.0.1:8123", "faceid.tencentcloudapi.com"):  # a local stand-in; a bare host
        fine.model_validate({**fine.model_dump(), "realname_tencent_endpoint": local})
    assert Settings(environment="development").realname_verifier == "standin"  # the demo keeps the stand-in


def test_the_intake_lane_holds_no_database_connection_while_the_provider_answers(client: TestClient) -> None:
    from carloop.accounts.realname import StandInVerifier, Verified

    state = client.app.state  # type: ignore[attr-defined]
    engines = [state.engine, state.lanes.reserve.reads]  # the app's and the lane's read engine

    held: list[int] = []

    class Watching(StandInVerifier):
        def verify(self, name: str, id_number: str) -> Verified:
            held.append(sum(e.pool.checkedout() for e in engines))
            return super().verify(name, id_number)

    client.app.state.realname_verifier = Watching()  # type: ignore[attr-defined]
    buyer = sign_in(client, "13700137007")
    body = {"configuration": FOUNDERS, "id_number": WANG, "real_name": "王五"}
    made = client.post("/api/v1/intake/orders", json=body, headers={**buyer, "Idempotency-Key": "w1"})
    assert made.status_code == 201, made.text
    assert held == [0]

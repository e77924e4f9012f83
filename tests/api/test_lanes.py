"""The fast lanes over HTTP: reservations and provider notifications through one group-commit writer.

The same use cases as the app's routes (``reserve_many``, ``capture_many``), answered after commit,
errors as problem+json through ``web.problems``; any configured provider, never a 503 for its sake.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.ordering.editions import id_number_with_check
from carloop.ordering.models import Order
from carloop.payments import ledger
from carloop.payments.models import NotificationLog, Payment
from carloop.payments.providers.alipay import sign_notification
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.lanes import LaneApp, WriterConfig

URL = "/api/v1/intake/orders"
FORM = {"content-type": "application/x-www-form-urlencoded"}
Form = dict[str, str]
PRO = {"configuration": {"model": "su7", "trim": "pro", "options": ["paint-aqua-blue"]}}
FOUNDERS = {
    "configuration": {"model": "su7", "trim": "founders"},
    "id_number": id_number_with_check("11010519491231002"),
    "real_name": "张三",
}


@pytest.fixture
def token(settings: Settings, session_factory: sessionmaker[Session]) -> str:
    """A signed-in customer's bearer token."""
    with session_factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone="13800138000")
        session.flush()
        token, _ = accounts.start_session(session=session, settings=settings, customer=customer)
    return token


def lane_client(settings: Settings, config: WriterConfig | None = None) -> TestClient:
    """A client for the app with the lanes in front of it."""
    return TestClient(LaneApp(create_app(settings), config), raise_server_exceptions=False)


@pytest.fixture
def client(settings: Settings, engine: object) -> Iterator[TestClient]:
    """The lanes in front of the real app (the simulator as provider)."""
    with lane_client(settings) as c:
        yield c


def headers(token: str, key: str | None = "k-1") -> dict[str, str]:
    """Bearer and Idempotency-Key headers."""
    out = {"Authorization": f"Bearer {token}"}
    if key is not None:
        out["Idempotency-Key"] = key
    return out


def simulator_form(
    settings: Settings, answer: dict[str, object], status: NotificationStatus
) -> dict[str, str]:
    """The simulator's signed notification for a reservation's deposit."""
    sim = SimulatorProvider(secret=settings.simulator_secret.get_secret_value())
    return sim.signed_notification(
        trade_no=str(answer["trade_no"]), amount_fen=int(str(answer["deposit_fen"])), status=status
    )


def test_a_reservation_holds_its_place_and_waits_for_the_deposit(client: TestClient, token: str) -> None:
    response = client.post(URL, json=PRO, headers=headers(token))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["queue_position"] == 1 and body["status"] == "pending_payment" and body["deposit_fen"] > 0
    assert body["pay_url"] == f"/pay/{body['trade_no']}" and body["pay_by"]
    mine = client.get("/api/v1/orders", headers=headers(token, None)).json()
    assert [(o["number"], o["status"]) for o in mine] == [(body["number"], "pending_payment")]


def test_the_providers_notification_through_the_lane_captures_once(
    client: TestClient, token: str, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    body = client.post(URL, json=PRO, headers=headers(token)).json()
    form = simulator_form(settings, body, NotificationStatus.SUCCEEDED)
    notify = "/api/v1/payments/notify/simulator"
    first = client.post(
        notify, content=urlencode(form), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert first.status_code == 200 and first.text == "success"
    again = client.post(notify, data=form)
    assert again.status_code == 200 and again.text == "success"  # a replay changes nothing
    forged = client.post(notify, data={**form, "total_amount": "1.00"})
    assert forged.status_code == 400 and forged.json()["code"] == "signature-invalid"
    assert client.post("/api/v1/payments/notify/alipay", data=form).status_code == 404
    mine = client.get("/api/v1/orders", headers=headers(token, None)).json()
    assert mine[0]["status"] == "reserved" and mine[0]["deposit"]["refundable"] is True
    with session_factory() as session:
        assert ledger.check(session=session).ok
        assert (
            ledger.held_for_order(session=session, order_id=session.scalar(select(Order.id)))
            == body["deposit_fen"]
        )
        outcomes = session.scalars(select(NotificationLog.outcome).order_by(NotificationLog.id)).all()
        assert outcomes == ["captured", "duplicate", "rejected"]


def test_a_retry_with_the_same_key_gets_the_same_order_and_says_so(client: TestClient, token: str) -> None:
    first = client.post(URL, json=PRO, headers=headers(token))
    again = client.post(URL, json=PRO, headers=headers(token))
    assert again.status_code == 201 and again.json()["number"] == first.json()["number"]
    assert again.json()["trade_no"] == first.json()["trade_no"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(client.get("/api/v1/orders", headers=headers(token, None)).json()) == 1


def test_signing_in_is_required(client: TestClient) -> None:
    response = client.post(URL, json=PRO, headers={"Idempotency-Key": "x"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_an_idempotency_key_is_required(client: TestClient, token: str) -> None:
    assert client.post(URL, json=PRO, headers=headers(token, None)).status_code == 422


def test_an_unknown_field_is_refused_naming_it(client: TestClient, token: str) -> None:
    response = client.post(URL, json={**PRO, "discount": 1}, headers=headers(token))
    assert response.status_code == 422 and "discount" in response.json()["detail"]
    assert response.json()["instance"] == URL


def test_an_invalid_configuration_is_refused_with_its_conflicts(client: TestClient, token: str) -> None:
    bad = {
        "configuration": {"model": "su7", "trim": "pro", "options": ["paint-aqua-blue", "paint-pearl-white"]}
    }
    response = client.post(URL, json=bad, headers=headers(token))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid-configuration" and response.json()["problems"]


def test_malformed_json_is_a_400(client: TestClient, token: str) -> None:
    response = client.post(URL, content=b"{nope", headers=headers(token))
    assert response.status_code == 400 and response.json()["code"] == "malformed-body"


def test_an_identity_number_with_a_wrong_check_digit_is_refused(client: TestClient, token: str) -> None:
    body = {"configuration": {"model": "su7", "trim": "founders"}, "id_number": "110105194912310021"}
    response = client.post(URL, json=body, headers=headers(token))
    assert response.status_code == 422 and "id_number" in response.json()["detail"]


def test_a_numbered_edition_holds_its_number_until_paid_then_locks(
    client: TestClient, token: str, settings: Settings
) -> None:
    response = client.post(URL, json=FOUNDERS, headers=headers(token))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["edition_number"] == 1 and body["status"] == "pending_payment"
    paid = client.post(
        "/api/v1/payments/notify/simulator", data=simulator_form(settings, body, NotificationStatus.SUCCEEDED)
    )
    assert paid.status_code == 200
    order = client.get(f"/api/v1/orders/{body['number']}", headers=headers(token, None)).json()
    assert (order["status"], order["edition_number"]) == ("locked", 1)


def test_past_capacity_the_lane_answers_503_with_retry_after_at_once(
    settings: Settings, engine: object, token: str
) -> None:
    with lane_client(settings, WriterConfig(max_pending=0)) as c:
        response = c.post(URL, json=PRO, headers=headers(token))
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.json()["code"] == "overloaded"


def test_the_hello_route_and_the_rest_of_the_app_are_served(client: TestClient) -> None:
    assert client.get("/api/v1/intake/hello").json() == {"ok": True}
    assert client.get("/healthz").status_code == 200
    assert client.get(URL).status_code == 405


# --- any provider: Alipay with test keys, the test playing Alipay --------------------------------


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_with_alipay_the_lane_reserves_and_alipays_signed_notification_pays(
    settings: Settings, engine: object, token: str, session_factory: sessionmaker[Session]
) -> None:
    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alipay_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alipay_public = alipay_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    alipay = settings.model_copy(
        update={
            "payment_provider": "alipay",
            "alipay_app_id": "2021000000000001",
            "alipay_app_private_key": SecretStr(_pem(app_key)),
            "alipay_public_key": alipay_public.decode(),
        }
    )
    with lane_client(alipay) as c:
        response = c.post(URL, json=PRO, headers=headers(token))
        assert response.status_code == 201, response.text  # never a 503 for the provider's sake
        body = response.json()
        c.cookies.set("carloop_session", token)
        cashier = c.get(body["pay_url"], follow_redirects=False)
        assert cashier.status_code == 303 and cashier.headers["location"].startswith("https://openapi")
        form = {
            "app_id": "2021000000000001",
            "out_trade_no": body["trade_no"],
            "trade_no": "2026120722001400000000000001",
            "total_amount": f"{body['deposit_fen'] // 100}.{body['deposit_fen'] % 100:02d}",
            "trade_status": "TRADE_SUCCESS",
            "notify_time": "2026-12-07 10:00:00",
            "notify_id": "n1",
            "sign_type": "RSA2",
        }
        form["sign"] = sign_notification(_pem(alipay_key), form)
        assert c.post("/api/v1/payments/notify/alipay", data=form).text == "success"
        assert c.post("/api/v1/payments/notify/alipay", data=form).text == "success"  # replayed
        forged = {**form, "sign": sign_notification(_pem(app_key), form)}
        assert c.post("/api/v1/payments/notify/alipay", data=forged).status_code == 400
        order = c.get(f"/api/v1/orders/{body['number']}", headers=headers(token, None)).json()
        assert order["status"] == "reserved"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 1
        assert ledger.check(session=session).ok

"""WeChat Pay API v3 end to end over HTTP, the test playing WeChat Pay through its local stand-in.

The stand-in checks carloop's request signatures as WeChat Pay does and signs (and encrypts) what it
sends back; carloop's books must stay exact through payment, replay, forgery, staleness and refunds.
"""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from stand_ins.wechat import WeChatPayStandIn, pem_private
from stand_ins.wechat_pay import DESKTOP, NOTIFY, PUBLIC, REFUND_NOTIFY, reserve

from carloop.errors import PaymentFailed
from carloop.payments import ledger
from carloop.payments.models import (
    JournalEntry,
    NotificationLog,
    Payment,
    PaymentStatus,
    ReconciliationDifference,
    Refund,
)
from carloop.payments.providers.wechat import WeChatPayProvider
from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.asgi import Served


@pytest.fixture
def client(wx_client: TestClient) -> TestClient:
    """This module's client: the app with WeChat Pay (tests/stand_ins/wechat_pay.py)."""
    return wx_client


def _reserve(client: TestClient, factory: sessionmaker[Session], settings: Settings) -> dict[str, str]:
    token, body = reserve(client, factory, settings, phone="13800138000", key="k-1")
    client.cookies.set("carloop_session", token)
    client.headers["Authorization"] = f"Bearer {token}"
    return {"number": body["order"]["number"], **body["payment"]}


def _qr_page(client: TestClient, body: dict[str, str]) -> str:
    page = client.get(body["pay_url"], headers=DESKTOP)  # /pay/{no} -> /pay/wechat/{no}, the QR code
    assert page.status_code == 200, page.text
    assert "<svg" in page.text and 'data-code-url="weixin://wxpay/bizpayurl?pr=' in page.text
    return page.text


def _post(client: TestClient, path: str, made: object) -> int:
    return client.post(path, content=made.body, headers=made.headers).status_code  # type: ignore[attr-defined]


def _books(factory: sessionmaker[Session]) -> tuple[int, int, bool]:
    with factory() as session:
        entries = session.scalar(select(func.count()).select_from(JournalEntry)) or 0
        paid = session.scalar(select(func.count()).where(Payment.status == PaymentStatus.SUCCEEDED)) or 0
        return entries, paid, ledger.check(session=session).ok


def test_native_pay_replay_forgery_and_staleness_leave_the_ledger_exact(
    client: TestClient,
    wechat: WeChatPayStandIn,
    wx_settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    body = _reserve(client, session_factory, wx_settings)
    _qr_page(client, body)
    assert body["trade_no"] in wechat.orders and not wechat.refused  # our signature was accepted
    _qr_page(client, body)  # the page refreshes itself: the order is not placed at WeChat Pay again
    assert wechat.calls == ["POST /v3/pay/transactions/native"]

    # Forged: signed by someone else's key. Stale: WeChat's key, but ten minutes old. Both refused.
    forged = wechat.pay(body["trade_no"])
    forged.headers = wechat.signed_headers(forged.body, key=wechat.merchant_key)
    assert _post(client, NOTIFY, forged) == 400
    stale = wechat.pay(body["trade_no"], timestamp=int(time.time()) - 600)
    assert _post(client, NOTIFY, stale) == 400
    tampered = wechat.pay(body["trade_no"])
    tampered.body = tampered.body.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCESS" ')
    assert _post(client, NOTIFY, tampered) == 400
    assert _books(session_factory) == (0, 0, True)

    paid = wechat.pay(body["trade_no"])
    assert _post(client, NOTIFY, paid) == 200
    assert _post(client, NOTIFY, paid) == 200  # replayed: answered, nothing moves
    assert _post(client, NOTIFY, wechat.pay(body["trade_no"])) == 200  # resent (fresh nonce)
    assert _books(session_factory) == (1, 1, True)
    with session_factory() as session:
        payment = session.scalar(select(Payment))
        assert payment is not None and payment.provider == "wechat"
        assert payment.provider_txn_id == wechat.orders[body["trade_no"]].transaction_id
        outcomes = [n.outcome for n in session.scalars(select(NotificationLog).order_by(NotificationLog.id))]
        # The lane logs the refused ones too (forged, stale, tampered), then the one capture.
        assert outcomes == ["rejected"] * 3 + ["captured", "duplicate", "duplicate"]
    order = client.get(f"/api/v1/orders/{body['number']}").json()
    assert order["status"] == "reserved"
    # Paid: the pay link sends the buyer back to the order instead of a QR code.
    assert client.get(body["pay_url"], headers=DESKTOP, follow_redirects=False).status_code == 303


def test_refund_goes_to_wechat_and_its_callback_is_recorded(
    client: TestClient,
    wechat: WeChatPayStandIn,
    wx_settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    body = _reserve(client, session_factory, wx_settings)
    _qr_page(client, body)
    assert _post(client, NOTIFY, wechat.pay(body["trade_no"])) == 200
    response = client.post(f"/api/v1/orders/{body['number']}/refund", headers={"Idempotency-Key": "refund-1"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "refunded"
    (refund_no,) = wechat.refunds
    assert wechat.refunds[refund_no]["notify_url"] == PUBLIC + REFUND_NOTIFY
    made = wechat.refund_callback(refund_no)
    assert _post(client, REFUND_NOTIFY, made) == 200
    assert _post(client, REFUND_NOTIFY, made) == 200  # replayed: logged again, no money moves
    forged = wechat.refund_callback(refund_no)
    forged.headers = wechat.signed_headers(forged.body, key=wechat.merchant_key)
    assert _post(client, REFUND_NOTIFY, forged) == 400
    abnormal = wechat.refund_callback(refund_no, status="ABNORMAL")  # e.g. the buyer's card was closed
    assert _post(client, REFUND_NOTIFY, abnormal) == 200
    assert _post(client, REFUND_NOTIFY, abnormal) == 200
    with session_factory() as session:
        (refund,) = session.scalars(select(Refund))
        assert refund.provider_ref == wechat.refunds[refund_no]["refund_id"]
        outcomes = session.scalars(
            select(NotificationLog.outcome).where(NotificationLog.outcome.like("refund%"))
        )
        assert list(outcomes) == ["refund_succeeded", "refund_succeeded", "refund_failed", "refund_failed"]
        (waiting,) = session.scalars(select(ReconciliationDifference))  # once, for HQ finance
        assert (waiting.kind, waiting.refund_no, waiting.status) == ("refund_failed", refund_no, "open")
    assert _books(session_factory) == (2, 1, True)


def test_h5_on_a_phone_goes_to_wechats_cashier(
    client: TestClient,
    wechat: WeChatPayStandIn,
    wx_settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    body = _reserve(client, session_factory, wx_settings)
    phone = {"user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148 Safari/604.1"}
    answer = client.get(f"/pay/wechat/{body['trade_no']}", headers=phone, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("https://wx.tenpay.com/")
    assert "redirect_url=https%3A%2F%2Fshop.carloop.test%2F" in answer.headers["location"]
    assert wechat.orders[body["trade_no"]].kind == "H5"


def test_a_callback_for_no_configured_provider_or_without_signature_is_refused(client: TestClient) -> None:
    assert client.post("/api/v1/payments/notify/alipay", data={"a": "b"}).status_code == 404
    assert client.post(NOTIFY, content=b"{}", headers={"content-type": "application/json"}).status_code == 400


def test_jsapi_order_gives_parameters_signed_by_the_merchant(
    wechat: WeChatPayStandIn, wx_settings: Settings
) -> None:
    provider = WeChatPayProvider.from_settings(wx_settings)
    params = provider.jsapi_params(
        trade_no="P-JSAPI-1",
        amount_fen=500000,
        subject="carloop deposit",
        notify_url=PUBLIC + NOTIFY,
        openid="o1",
    )
    assert wechat.orders["P-JSAPI-1"].kind == "JSAPI" and params["package"].startswith("prepay_id=wx")
    text = "\n".join([params["appId"], params["timeStamp"], params["nonceStr"], params["package"]]) + "\n"
    wechat.merchant_key.public_key().verify(
        base64.b64decode(params["paySign"]), text.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_a_request_wechat_pay_cannot_verify_is_a_clear_failure(
    wechat: WeChatPayStandIn, wx_settings: Settings
) -> None:
    other = WeChatPayStandIn()  # carloop signing with a key WeChat Pay does not know
    impostor = wx_settings.model_copy(
        update={"wechat_private_key": SecretStr(pem_private(other.merchant_key))}
    )
    with pytest.raises(PaymentFailed, match="refused the order: SIGN_ERROR"):
        WeChatPayProvider.from_settings(impostor).native_code_url(
            trade_no="P-X", amount_fen=100, subject="x", notify_url=PUBLIC + NOTIFY
        )
    assert wechat.refused == ["signature does not verify"]


def test_the_buyer_chooses_among_configured_providers_and_the_refund_follows_the_choice(
    settings: Settings, wechat: WeChatPayStandIn, engine: object, session_factory: sessionmaker[Session]
) -> None:
    both = Settings(**{**settings.model_dump(), "public_base_url": PUBLIC, **wechat.settings()})
    assert both.payment_providers == ["simulator", "wechat"]
    app = create_app(both)
    with TestClient(Served(app), raise_server_exceptions=False) as client:
        body = _reserve(client, session_factory, both)
        choose = client.get(body["pay_url"], headers=DESKTOP)
        assert (
            'data-testid="pay-via-simulator"' in choose.text and 'data-testid="pay-via-wechat"' in choose.text
        )
        page = client.get(body["pay_url"] + "?via=wechat", headers=DESKTOP)
        assert page.status_code == 200 and "<svg" in page.text and "换一种支付方式" in page.text
        assert _post(client, NOTIFY, wechat.pay(body["trade_no"])) == 200
        refunded = client.post(f"/api/v1/orders/{body['number']}/refund", headers={"Idempotency-Key": "r"})
        assert refunded.status_code == 200 and refunded.json()["status"] == "refunded"
        assert len(wechat.refunds) == 1  # the money went back where it came from, not to the simulator
    app.state.engine.dispose()
    assert _books(session_factory) == (2, 1, True)

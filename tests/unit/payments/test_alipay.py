"""The Alipay adapter: RSA2 notifications signed as Alipay signs them, page-pay URLs, refunds."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from carloop.errors import ErrorCode, PaymentFailed
from carloop.payments.providers.alipay import (
    GATEWAY,
    SANDBOX_GATEWAY,
    AlipayProvider,
    amount_text,
    parse_amount,
)
from carloop.payments.providers.base import NotificationStatus
from carloop.settings import Settings

APP_ID = "2021000000000001"
NOON_UTC = datetime(2025, 3, 1, 4, 0, 0, tzinfo=UTC)
APP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # ours: signs requests
ALIPAY_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # Alipay's: signs answers
APP_PRIVATE_PEM = APP_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
ALIPAY_PUBLIC_PEM = (
    ALIPAY_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def rsa2_sign(text: str, key: rsa.RSAPrivateKey) -> str:
    """SHA256withRSA, base64: what Alipay means by RSA2."""
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def app_signed_params(query: str) -> dict[str, str]:
    """A gateway request's parameters, after checking our app key signed all of them but ``sign``."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    text = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign")
    APP_KEY.public_key().verify(
        base64.b64decode(params["sign"]), text.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return params


def provider(transport: httpx.BaseTransport | None = None) -> AlipayProvider:
    return AlipayProvider(
        app_id=APP_ID,
        app_private_key=APP_PRIVATE_PEM,
        alipay_public_key=ALIPAY_PUBLIC_PEM,
        transport=transport,
        clock=lambda: NOON_UTC,
    )


PROVIDER = provider()


def alipay_notification(key: rsa.RSAPrivateKey = ALIPAY_KEY, **fields: str) -> dict[str, str]:
    """An asynchronous notification signed exactly as Alipay signs it (sign and sign_type excluded)."""
    form = {
        "notify_time": "2025-03-01 12:00:05",
        "notify_type": "trade_status_sync",
        "notify_id": "2025030100222120005000000000",
        "charset": "utf-8",
        "version": "1.0",
        "app_id": APP_ID,
        "out_trade_no": "PAY-1",
        "trade_no": "2025030122001400000000000001",
        "total_amount": "5000.00",
        "trade_status": "TRADE_SUCCESS",
        "subject": "Carloop 定金",
        "gmt_payment": "2025-03-01 12:00:04",
        "sign_type": "RSA2",
    } | fields
    text = "&".join(f"{k}={form[k]}" for k in sorted(form) if k not in ("sign", "sign_type"))
    form["sign"] = rsa2_sign(text, key)
    return form


def test_notification_signed_by_alipay_verifies_and_translates() -> None:
    form = alipay_notification()
    note = PROVIDER.verify_notification(form)
    assert note.provider == "alipay"
    assert note.trade_no == "PAY-1"
    assert note.provider_txn_id == "2025030122001400000000000001"
    assert note.amount_fen == 500000
    assert note.status is NotificationStatus.SUCCEEDED
    assert note.raw == form


@pytest.mark.parametrize(
    ("trade_status", "status"),
    [("TRADE_FINISHED", NotificationStatus.SUCCEEDED), ("TRADE_CLOSED", NotificationStatus.CLOSED)],
)
def test_final_trade_statuses_translate(trade_status: str, status: NotificationStatus) -> None:
    assert PROVIDER.verify_notification(alipay_notification(trade_status=trade_status)).status is status


def test_waiting_for_the_buyer_is_not_an_outcome() -> None:
    with pytest.raises(PaymentFailed) as caught:
        PROVIDER.verify_notification(alipay_notification(trade_status="WAIT_BUYER_PAY"))
    assert caught.value.code is ErrorCode.PAYMENT_FAILED
    assert caught.value.data == {"trade_status": "WAIT_BUYER_PAY", "final": False}


def unsigned(form: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in form.items() if k != "sign"}


FORGED = {
    "tampered amount": alipay_notification() | {"total_amount": "0.01"},
    "tampered trade": alipay_notification() | {"out_trade_no": "PAY-2"},
    "tampered status": alipay_notification() | {"trade_status": "TRADE_CLOSED"},
    "no sign field": unsigned(alipay_notification()),
    "empty sign": alipay_notification() | {"sign": ""},
    "garbage base64": alipay_notification() | {"sign": "!!!not base64!!!"},
    "bad padding": alipay_notification() | {"sign": "abc"},
    "non-ascii sign": alipay_notification() | {"sign": "签名"},
    "RSA1 sign type": alipay_notification() | {"sign_type": "RSA"},
    "signed by another key": alipay_notification(key=APP_KEY),
    "validly signed for another app": alipay_notification(app_id="2021000000009999"),
}


@pytest.mark.parametrize("form", FORGED.values(), ids=FORGED.keys())
def test_forged_or_foreign_notification_is_refused(form: dict[str, str]) -> None:
    with pytest.raises(PaymentFailed) as caught:
        PROVIDER.verify_notification(form)
    assert caught.value.code is ErrorCode.SIGNATURE_INVALID


@pytest.mark.parametrize("amount", ["12.345", "1e3", "-1.00", "+1.00", " 1.00", "0.00", "01.00", "NaN", ""])
def test_signed_notification_with_malformed_amount_is_refused(amount: str) -> None:
    with pytest.raises(PaymentFailed) as caught:
        PROVIDER.verify_notification(alipay_notification(total_amount=amount))
    assert caught.value.code is ErrorCode.PAYMENT_FAILED


@given(fen=st.integers(min_value=1, max_value=10**14 - 1))
def test_amounts_convert_exactly_both_ways(fen: int) -> None:
    text = amount_text(fen)
    assert text == f"{fen // 100}.{fen % 100:02d}"
    assert parse_amount(text) == fen


def test_amounts_with_one_decimal_or_none_parse() -> None:
    assert (parse_amount("5000"), parse_amount("0.5"), parse_amount("0.01")) == (500000, 50, 1)


def test_start_payment_url_carries_a_valid_app_signature() -> None:
    start = PROVIDER.start_payment(
        trade_no="PAY-1",
        amount_fen=500000,
        subject="Carloop 定金",
        return_url="https://carloop.example/orders/1",
        notify_url="https://carloop.example/api/v1/payments/notify/alipay",
    )
    url = urlsplit(start.pay_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == SANDBOX_GATEWAY
    params = app_signed_params(url.query)
    assert params["method"] == "alipay.trade.page.pay"
    assert params["app_id"] == APP_ID
    assert params["sign_type"] == "RSA2"
    assert params["timestamp"] == "2025-03-01 12:00:00"  # Beijing time
    assert params["notify_url"] == "https://carloop.example/api/v1/payments/notify/alipay"
    assert params["return_url"] == "https://carloop.example/orders/1"
    assert json.loads(params["biz_content"]) == {
        "out_trade_no": "PAY-1",
        "total_amount": "5000.00",
        "subject": "Carloop 定金",
        "product_code": "FAST_INSTANT_TRADE_PAY",
    }


def refund_body(answer: dict[str, str], key: rsa.RSAPrivateKey = ALIPAY_KEY) -> str:
    """Alipay's synchronous answer: the response object and a signature over its exact text."""
    inner = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
    return f'{{"alipay_trade_refund_response":{inner},"sign":"{rsa2_sign(inner, key)}"}}'


ACCEPTED = {
    "code": "10000",
    "msg": "Success",
    "trade_no": "2025030122001400000000000001",
    "out_trade_no": "PAY-1",
    "refund_fee": "100.00",
    "fund_change": "Y",
}


def answering(body: str, status: int = 200, seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, text=body)

    return httpx.MockTransport(handle)


def test_refund_sends_a_signed_request_keyed_by_refund_no_and_is_accepted() -> None:
    seen: list[httpx.Request] = []
    result = provider(answering(refund_body(ACCEPTED), seen=seen)).refund(
        trade_no="PAY-1", refund_no="R-1", amount_fen=10000, reason="订单取消"
    )
    assert (result.refund_no, result.amount_fen, result.accepted) == ("R-1", 10000, True)
    assert result.provider_ref == "2025030122001400000000000001"
    params = app_signed_params(seen[0].url.query.decode())
    assert params["method"] == "alipay.trade.refund"
    assert json.loads(params["biz_content"]) == {
        "out_trade_no": "PAY-1",
        "refund_amount": "100.00",
        "out_request_no": "R-1",
        "refund_reason": "订单取消",
    }


def test_refund_refused_by_alipay_is_not_accepted() -> None:
    refused = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_HAS_CLOSE"}
    result = provider(answering(refund_body(refused))).refund(
        trade_no="PAY-1", refund_no="R-1", amount_fen=10000, reason=""
    )
    assert (result.accepted, result.provider_ref) == (False, "ACQ.TRADE_HAS_CLOSE")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (refund_body({"code": "20000", "sub_code": "ACQ.SYSTEM_ERROR"}), None),
        (refund_body(ACCEPTED, key=APP_KEY), ErrorCode.SIGNATURE_INVALID),
        (refund_body(ACCEPTED).replace("100.00", "999.00"), ErrorCode.SIGNATURE_INVALID),
        (refund_body(ACCEPTED | {"out_trade_no": "PAY-2"}), None),
        ('{"error_response":{"code":"40002","sub_code":"isv.invalid-app-id"}}', None),
        ('{"alipay_trade_refund_response":{"code":"10000"}}', None),
        ("<html>gateway error</html>", None),
        ('{"sign":"abc"}', None),
    ],
)
def test_refund_answer_that_cannot_be_trusted_raises(body: str, code: ErrorCode | None) -> None:
    with pytest.raises(PaymentFailed) as caught:
        provider(answering(body)).refund(trade_no="PAY-1", refund_no="R-1", amount_fen=10000, reason="")
    assert caught.value.code is (code or ErrorCode.PAYMENT_FAILED)


def test_refund_network_and_http_errors_raise_payment_failed() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    with pytest.raises(PaymentFailed) as caught:
        provider(httpx.MockTransport(unreachable)).refund(
            trade_no="P", refund_no="R", amount_fen=1, reason=""
        )
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    with pytest.raises(PaymentFailed):
        provider(answering("", status=502)).refund(trade_no="P", refund_no="R", amount_fen=1, reason="")


def bare_base64(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


def test_from_settings_reads_pem_text_a_pem_file_or_bare_base64(tmp_path: Path) -> None:
    key_file = tmp_path / "app_private_key.pem"
    key_file.write_text(APP_PRIVATE_PEM)
    pems = (APP_PRIVATE_PEM, ALIPAY_PUBLIC_PEM)
    base64_file = tmp_path / "alipay_public_key.txt"
    base64_file.write_text(bare_base64(ALIPAY_PUBLIC_PEM))
    for private, public in [
        pems,
        (str(key_file), bare_base64(pems[1])),
        (bare_base64(pems[0]), str(base64_file)),
    ]:
        settings = Settings(
            environment="test",
            payment_provider="alipay",
            alipay_app_id=APP_ID,
            alipay_app_private_key=private,
            alipay_public_key=public,
            alipay_sandbox=False,
        )
        loaded = AlipayProvider.from_settings(settings)
        assert loaded.gateway == GATEWAY
        assert loaded.verify_notification(alipay_notification()).amount_fen == 500000


@pytest.mark.parametrize(
    ("app_id", "private", "public"),
    [
        ("", APP_PRIVATE_PEM, ALIPAY_PUBLIC_PEM),
        (APP_ID, "", ALIPAY_PUBLIC_PEM),
        (APP_ID, APP_PRIVATE_PEM, "not a key"),
        (APP_ID, "/no/such/key.pem", ALIPAY_PUBLIC_PEM),
    ],
)
def test_missing_or_broken_credentials_are_refused(app_id: str, private: str, public: str) -> None:
    with pytest.raises(PaymentFailed):
        AlipayProvider(app_id=app_id, app_private_key=private, alipay_public_key=public)

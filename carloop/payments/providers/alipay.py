"""Alipay (支付宝) adapter on python-alipay-sdk: page pay, RSA2-signed notifications, refunds."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from carloop.clock import SHANGHAI, utcnow
from carloop.errors import ErrorCode, PaymentFailed
from carloop.money import FEN_PER_YUAN, to_decimal
from carloop.payments.providers.alipay_bill import parse_bill_zip
from carloop.payments.providers.base import (
    Notification,
    NotificationStatus,
    PaymentStart,
    RefundResult,
    StatementLine,
)
from carloop.settings import Settings

GATEWAY = "https://openapi.alipay.com/gateway.do"
SANDBOX_GATEWAY = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
SIGN_TYPE = "RSA2"
UNSIGNED_FIELDS = ("sign", "sign_type")
STATUSES = {
    "TRADE_SUCCESS": NotificationStatus.SUCCEEDED,
    "TRADE_FINISHED": NotificationStatus.SUCCEEDED,
    "TRADE_CLOSED": NotificationStatus.CLOSED,
}
_AMOUNT = re.compile(r"\A(0|[1-9]\d{0,11})(\.\d{1,2})?\Z")
_REFUND_RESPONSE = "alipay_trade_refund_response"
_BILL_RESPONSE = "alipay_data_dataservice_bill_downloadurl_query_response"


def canonical_string(form: Mapping[str, str]) -> str:
    """The text a notification signs: sorted ``k=v`` pairs joined by ``&``, without sign fields."""
    return "&".join(f"{k}={v}" for k, v in sorted(form.items()) if k not in UNSIGNED_FIELDS)


def amount_text(fen: int) -> str:
    """Positive integer fen as Alipay's yuan amount (``500000`` → ``"5000.00"``)."""
    if fen <= 0:
        raise PaymentFailed(f"amount must be positive, got {fen} fen", code=ErrorCode.PAYMENT_FAILED)
    return str(to_decimal(fen))


def parse_amount(text: str) -> int:
    """Alipay's yuan amount text as positive integer fen; refuse anything not exact."""
    if not _AMOUNT.match(text) or (fen := int(Decimal(text) * FEN_PER_YUAN)) <= 0:
        raise PaymentFailed(f"malformed amount {text!r}", code=ErrorCode.PAYMENT_FAILED)
    return fen


def translate_notification(provider: str, form: Mapping[str, str]) -> Notification:
    """An Alipay-shaped notification whose signature is already checked, in our own terms."""
    missing = [k for k in ("out_trade_no", "trade_no", "total_amount", "trade_status") if not form.get(k)]
    if missing:
        raise PaymentFailed(f"notification lacks {', '.join(missing)}", code=ErrorCode.PAYMENT_FAILED)
    trade_status = form["trade_status"]
    status = STATUSES.get(trade_status)
    if status is None:
        # WAIT_BUYER_PAY (or anything new): not an outcome, so nothing to record yet.
        raise PaymentFailed(
            f"trade status {trade_status} is not final",
            code=ErrorCode.PAYMENT_FAILED,
            trade_status=trade_status,
            final=False,
        )
    return Notification(
        provider=provider,
        trade_no=form["out_trade_no"],
        provider_txn_id=form["trade_no"],
        amount_fen=parse_amount(form["total_amount"]),
        status=status,
        raw=dict(form),
    )


def sign_notification(private_key_pem: str, form: Mapping[str, str]) -> str:
    """The RSA2 signature Alipay puts on a notification (for tests and the bench, which play Alipay)."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PaymentFailed("not an RSA private key", code=ErrorCode.PAYMENT_FAILED)
    signed = key.sign(canonical_string(form).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signed).decode("ascii")


def read_key(value: str, *, kind: str) -> str:
    """A key as PEM text, given PEM text, a path to a PEM file, or Alipay's bare base64."""
    text = value.strip()
    if not text:
        raise PaymentFailed(f"Alipay {kind} key is not configured", code=ErrorCode.PAYMENT_FAILED)
    if "-----BEGIN" not in text:
        try:
            path = Path(text).expanduser()
            if path.is_file():
                text = path.read_text(encoding="ascii").strip()
        except (OSError, ValueError):
            pass  # too long or odd for a file name: Alipay's console shows keys as one base64 line
    if "-----BEGIN" in text:
        return text
    body = "".join(text.split())
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {kind.upper()} KEY-----\n{lines}\n-----END {kind.upper()} KEY-----\n"


class AlipayProvider:
    """Alipay computer-website payment (alipay.trade.page.pay) with RSA2 signatures."""

    name = "alipay"

    def __init__(
        self,
        *,
        app_id: str,
        app_private_key: str,
        alipay_public_key: str,
        sandbox: bool = True,
        gateway: str = "",
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = utcnow,
        timeout: float = 15.0,
    ) -> None:
        if not app_id:
            raise PaymentFailed("Alipay app_id is not configured", code=ErrorCode.PAYMENT_FAILED)
        try:
            self._sdk = AliPay(
                appid=app_id,
                app_private_key_string=read_key(app_private_key, kind="private"),
                alipay_public_key_string=read_key(alipay_public_key, kind="public"),
                sign_type=SIGN_TYPE,
                debug=sandbox,
            )
        except (ValueError, IndexError, TypeError) as err:
            raise PaymentFailed("Alipay keys cannot be loaded", code=ErrorCode.PAYMENT_FAILED) from err
        try:
            public = serialization.load_pem_public_key(read_key(alipay_public_key, kind="public").encode())
        except (ValueError, TypeError, UnsupportedAlgorithm) as err:
            raise PaymentFailed("Alipay public key cannot be loaded", code=ErrorCode.PAYMENT_FAILED) from err
        if not isinstance(public, rsa.RSAPublicKey):
            raise PaymentFailed("Alipay public key is not an RSA key", code=ErrorCode.PAYMENT_FAILED)
        # Notifications are verified with OpenSSL (``cryptography``): ~37 us per RSA2 signature here,
        # against ~870 us through the SDK's pycryptodome; at launch rate that decides the throughput.
        self._alipay_public = public
        self.app_id = app_id
        self.gateway = gateway or (SANDBOX_GATEWAY if sandbox else GATEWAY)
        self._transport = transport
        self._clock = clock
        self._timeout = timeout

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.BaseTransport | None = None
    ) -> AlipayProvider:
        """The provider configured by the ``CARLOOP_ALIPAY_*`` settings."""
        return cls(
            app_id=settings.alipay_app_id,
            app_private_key=settings.alipay_app_private_key.get_secret_value(),
            alipay_public_key=settings.alipay_public_key,
            sandbox=settings.alipay_sandbox,
            gateway=settings.alipay_gateway,
            transport=transport,
        )

    def start_payment(
        self, *, trade_no: str, amount_fen: int, subject: str, return_url: str, notify_url: str
    ) -> PaymentStart:
        """A signed alipay.trade.page.pay URL that sends the buyer to Alipay's cashier."""
        biz_content = {
            "out_trade_no": trade_no,
            "total_amount": amount_text(amount_fen),
            "subject": subject,
            "product_code": "FAST_INSTANT_TRADE_PAY",
        }
        order_string = self._signed_query(
            "alipay.trade.page.pay", biz_content, return_url=return_url, notify_url=notify_url
        )
        return PaymentStart(pay_url=f"{self.gateway}?{order_string}")

    def verify_notification(self, form: Mapping[str, str]) -> Notification:
        """Check an asynchronous notification's RSA2 signature (OpenSSL) and app id, then translate it."""
        signature = form.get("sign", "")
        if not signature:
            raise PaymentFailed("notification is not signed", code=ErrorCode.SIGNATURE_INVALID)
        if form.get("sign_type", SIGN_TYPE) != SIGN_TYPE:
            raise PaymentFailed("notification sign_type is not RSA2", code=ErrorCode.SIGNATURE_INVALID)
        try:
            raw = base64.b64decode(str(signature).encode("ascii"), validate=True)
            self._alipay_public.verify(
                raw, canonical_string(form).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
            )
            valid = True
        except InvalidSignature:
            valid = False
        except (ValueError, UnicodeEncodeError) as err:  # binascii.Error is a ValueError
            raise PaymentFailed(
                "notification signature is malformed", code=ErrorCode.SIGNATURE_INVALID
            ) from err
        if not valid:
            raise PaymentFailed("notification signature does not verify", code=ErrorCode.SIGNATURE_INVALID)
        if form.get("app_id") != self.app_id:
            raise PaymentFailed("notification is for another Alipay app", code=ErrorCode.SIGNATURE_INVALID)
        return translate_notification(self.name, form)

    def refund(self, *, trade_no: str, refund_no: str, amount_fen: int, reason: str) -> RefundResult:
        """Call alipay.trade.refund; ``refund_no`` is Alipay's out_request_no, so repeats are safe.

        A business refusal comes back as ``accepted=False`` with Alipay's sub_code in
        ``provider_ref``; a transport, signature or system error (outcome unknown: retry with the
        same ``refund_no``) raises ``PaymentFailed``.
        """
        biz_content = {
            "out_trade_no": trade_no,
            "refund_amount": amount_text(amount_fen),
            "out_request_no": refund_no,
        }
        if reason:
            biz_content["refund_reason"] = reason
        url = f"{self.gateway}?{self._signed_query('alipay.trade.refund', biz_content)}"
        try:
            with httpx.Client(transport=self._transport, timeout=self._timeout) as client:
                response = client.get(url)
            response.raise_for_status()
        except httpx.HTTPError as err:
            raise PaymentFailed("Alipay refund call failed", code=ErrorCode.PAYMENT_FAILED) from err
        result = self._verified_response(response.text)
        code = str(result.get("code", ""))
        if code == "10000":
            if result.get("out_trade_no", trade_no) != trade_no:
                raise PaymentFailed("Alipay answered for another trade", code=ErrorCode.PAYMENT_FAILED)
            return RefundResult(
                refund_no=refund_no,
                amount_fen=amount_fen,
                accepted=True,
                provider_ref=str(result.get("trade_no", "")),
            )
        sub_code = str(result.get("sub_code", ""))
        if code == "20000" or sub_code == "ACQ.SYSTEM_ERROR":
            raise PaymentFailed(
                "Alipay could not process the refund now; retry with the same refund number",
                code=ErrorCode.PAYMENT_FAILED,
                sub_code=sub_code,
            )
        return RefundResult(
            refund_no=refund_no, amount_fen=amount_fen, accepted=False, provider_ref=sub_code or code
        )

    def _signed_query(self, method: str, biz_content: dict[str, str], **params: str) -> str:
        """The SDK-signed query string for one gateway call, stamped with Beijing time."""
        timestamp = self._clock().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        data = self._sdk.build_body(method, biz_content, timestamp=timestamp, **params)
        return str(self._sdk.sign_data(data))

    def _verified_response(self, raw: str, response_type: str = _REFUND_RESPONSE) -> dict[str, Any]:
        """A response object after the SDK checked Alipay's signature over it."""
        try:
            # The SDK's own check: it finds the exact signed substring of the raw JSON.
            result = self._sdk._verify_and_return_sync_response(raw, response_type)
        except AliPayValidationError as err:
            raise PaymentFailed(
                "Alipay response signature does not verify", code=ErrorCode.SIGNATURE_INVALID
            ) from err
        except (AliPayException, ValueError, TypeError, AttributeError, KeyError) as err:
            raise PaymentFailed(
                "Alipay refused or garbled the refund call", code=ErrorCode.PAYMENT_FAILED
            ) from err
        if not isinstance(result, dict):
            raise PaymentFailed("Alipay refund response is not an object", code=ErrorCode.PAYMENT_FAILED)
        return result

    def _get(self, url: str) -> httpx.Response:
        try:
            with httpx.Client(transport=self._transport, timeout=self._timeout) as client:
                response = client.get(url)
            response.raise_for_status()
        except httpx.HTTPError as err:
            raise PaymentFailed("Alipay call failed", code=ErrorCode.PAYMENT_FAILED) from err
        return response

    def query(self, trade_no: str) -> Notification | None:
        """alipay.trade.query (a signed answer): the trade's final outcome, or None (unpaid or unknown)."""
        url = f"{self.gateway}?{self._signed_query('alipay.trade.query', {'out_trade_no': trade_no})}"
        result = self._verified_response(self._get(url).text, "alipay_trade_query_response")
        if str(result.get("code", "")) != "10000":
            if str(result.get("sub_code", "")) == "ACQ.TRADE_NOT_EXIST":
                return None
            raise PaymentFailed("Alipay could not answer the trade query", code=ErrorCode.PAYMENT_FAILED)
        try:
            return translate_notification(self.name, {k: str(v) for k, v in result.items()})
        except PaymentFailed as err:
            if err.data.get("final") is False:
                return None
            raise

    def statement(self, day: date) -> list[StatementLine]:
        """The day's trade bill: alipay.data.dataservice.bill.downloadurl.query, then its zip."""
        biz = {"bill_type": "trade", "bill_date": day.isoformat()}
        url = f"{self.gateway}?{self._signed_query('alipay.data.dataservice.bill.downloadurl.query', biz)}"
        result = self._verified_response(self._get(url).text, _BILL_RESPONSE)
        if str(result.get("code", "")) != "10000" or not result.get("bill_download_url"):
            if str(result.get("sub_code", "")) == "isp.bill_not_exist":
                return []
            raise PaymentFailed("Alipay could not give the bill", code=ErrorCode.PAYMENT_FAILED)
        return parse_bill_zip(self._get(str(result["bill_download_url"])).content)

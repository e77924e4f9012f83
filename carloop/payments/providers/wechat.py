"""WeChat Pay (微信支付) API v3 adapter on the maintained ``wechatpayv3`` SDK.

Requests are signed by the SDK (``WECHATPAY2-SHA256-RSA2048`` with the merchant API key) and its
answers checked against WeChat Pay's platform public key. Callbacks are verified here with the
SDK's own primitives: the platform key's RSA-SHA256 over ``timestamp\\nnonce\\nbody\\n``, a
timestamp inside the freshness window, then AES-256-GCM decryption of the resource with the APIv3
key. A replayed callback verifies again and changes nothing (the capture path is idempotent).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, cast
from urllib.parse import quote

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import aes_decrypt, rsa_verify

from carloop.clock import utcnow
from carloop.errors import ErrorCode, PaymentFailed
from carloop.payments.providers.alipay import read_key
from carloop.payments.providers.base import (
    Notification,
    PaymentStart,
    RefundNotice,
    RefundResult,
    StatementLine,
)
from carloop.payments.providers.wechat_rules import (
    BODY,
    PAYMENT_EVENT,
    REFUND_EVENTS,
    SIGNATURE_TYPE,
    is_fresh,
    parse_trade_bill,
    translate_transaction,
)
from carloop.settings import Settings

GATEWAY = "https://api.mch.weixin.qq.com"
PAY_PAGE = "/pay/wechat/"  # carloop's own page: the Native QR code, or the H5 redirect on a phone
REFUND_NOTIFY_PATH = "/api/v1/payments/refunds/notify/wechat"
_PENDING_REFUND = ("SUCCESS", "PROCESSING")
_RETRY_CODES = ("SYSTEM_ERROR", "FREQUENCY_LIMITED")
_CODE_URLS_KEPT = 10_000


def _pem_private(value: str) -> str:
    try:
        key = serialization.load_pem_private_key(read_key(value, kind="private").encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise PaymentFailed("WeChat Pay private key cannot be loaded", code=ErrorCode.PAYMENT_FAILED) from err
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PaymentFailed("WeChat Pay private key is not an RSA key", code=ErrorCode.PAYMENT_FAILED)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public(value: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(read_key(value, kind="public").encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise PaymentFailed("WeChat Pay public key cannot be loaded", code=ErrorCode.PAYMENT_FAILED) from err
    if not isinstance(key, rsa.RSAPublicKey):
        raise PaymentFailed("WeChat Pay public key is not an RSA key", code=ErrorCode.PAYMENT_FAILED)
    return key


class WeChatPayProvider:
    """WeChat Pay for a direct merchant: Native, H5 and JSAPI orders, callbacks, refunds, bills."""

    name = "wechat"

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        cert_serial_no: str,
        private_key: str,
        apiv3_key: str,
        public_key: str,
        public_key_id: str,
        refund_notify_url: str,
        gateway: str = GATEWAY,
        clock: Callable[[], datetime] = utcnow,
        window_seconds: int = 300,
        timeout: float = 15.0,
    ) -> None:
        if not (mchid and appid and cert_serial_no and public_key_id):
            raise PaymentFailed("WeChat Pay is not configured", code=ErrorCode.PAYMENT_FAILED)
        if len(apiv3_key.encode()) != 32:
            raise PaymentFailed("WeChat Pay APIv3 key must be 32 bytes", code=ErrorCode.PAYMENT_FAILED)
        self._public = _public(public_key)
        public_pem = self._public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        self._sdk = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=mchid,
            private_key=_pem_private(private_key),
            cert_serial_no=cert_serial_no,
            appid=appid,
            apiv3_key=apiv3_key,
            public_key=public_pem,
            public_key_id=public_key_id,
            timeout=(5, timeout),
        )
        self._sdk._core._gate_way = gateway.rstrip("/")  # the SDK has no public knob for its host
        self.mchid, self.appid, self.public_key_id = mchid, appid, public_key_id
        self._apiv3_key = apiv3_key
        self._refund_notify_url = refund_notify_url
        self._clock = clock
        self._window = window_seconds
        self._code_urls: dict[str, str] = {}  # trade:amount -> code_url, oldest first
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> WeChatPayProvider:
        """The provider configured by the ``CARLOOP_WECHAT_*`` settings."""
        return cls(
            mchid=settings.wechat_mchid,
            appid=settings.wechat_appid,
            cert_serial_no=settings.wechat_cert_serial_no,
            private_key=settings.wechat_private_key.get_secret_value(),
            apiv3_key=settings.wechat_apiv3_key.get_secret_value(),
            public_key=settings.wechat_public_key,
            public_key_id=settings.wechat_public_key_id,
            refund_notify_url=settings.public_base_url.rstrip("/") + REFUND_NOTIFY_PATH,
            gateway=settings.wechat_gateway,
            window_seconds=settings.wechat_callback_window_seconds,
        )

    # --- calls ---------------------------------------------------------------------------------

    def _call(self, what: str, call: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
        try:
            return call()
        except Exception as err:  # the SDK raises bare Exception (signatures) and requests errors
            raise PaymentFailed(f"WeChat Pay call failed: {what}", code=ErrorCode.PAYMENT_FAILED) from err

    @staticmethod
    def _json(message: Any) -> dict[str, Any]:
        try:
            data = json.loads(message)
        except (TypeError, ValueError) as err:
            raise PaymentFailed(
                "WeChat Pay answered with garbled JSON", code=ErrorCode.PAYMENT_FAILED
            ) from err
        if not isinstance(data, dict):
            raise PaymentFailed("WeChat Pay answered with garbled JSON", code=ErrorCode.PAYMENT_FAILED)
        return data

    def _order(
        self,
        kind: WeChatPayType,
        *,
        trade_no: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        **extra: Any,
    ) -> dict[str, Any]:
        if amount_fen <= 0:
            raise PaymentFailed(
                f"amount must be positive, got {amount_fen} fen", code=ErrorCode.PAYMENT_FAILED
            )
        code, message = self._call(
            "order",
            lambda: self._sdk.pay(
                description=subject[:127] or trade_no,
                out_trade_no=trade_no,
                amount={"total": amount_fen, "currency": "CNY"},
                notify_url=notify_url,
                pay_type=kind,
                **extra,
            ),
        )
        data = self._json(message)
        if code != 200:
            raise PaymentFailed(
                f"WeChat Pay refused the order: {data.get('code', code)}",
                code=ErrorCode.PAYMENT_FAILED,
                provider_code=str(data.get("code", code)),
            )
        return data

    def start_payment(
        self, *, trade_no: str, amount_fen: int, subject: str, return_url: str, notify_url: str
    ) -> PaymentStart:
        """carloop's WeChat Pay page for the trade: a QR code on a desktop, WeChat's H5 page on a phone."""
        del subject, return_url, notify_url
        if amount_fen <= 0:
            raise PaymentFailed(
                f"amount must be positive, got {amount_fen} fen", code=ErrorCode.PAYMENT_FAILED
            )
        return PaymentStart(pay_url=PAY_PAGE + trade_no)

    def native_code_url(self, *, trade_no: str, amount_fen: int, subject: str, notify_url: str) -> str:
        """Native order: the ``weixin://`` code URL the buyer scans with WeChat.

        Kept per process for the QR page's refreshes (WeChat gives the same code for the same order
        again, but each call counts against the merchant's rate limit).
        """
        key = f"{trade_no}:{amount_fen}"
        if key in self._code_urls:
            return self._code_urls[key]
        data = self._order(
            WeChatPayType.NATIVE,
            trade_no=trade_no,
            amount_fen=amount_fen,
            subject=subject,
            notify_url=notify_url,
        )
        url = str(data.get("code_url") or "")
        if not url.startswith("weixin://"):
            raise PaymentFailed("WeChat Pay gave no code_url", code=ErrorCode.PAYMENT_FAILED)
        with self._lock:
            if len(self._code_urls) >= _CODE_URLS_KEPT:
                self._code_urls.pop(next(iter(self._code_urls)))
            self._code_urls[key] = url
        return url

    def h5_url(
        self,
        *,
        trade_no: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        client_ip: str,
        return_url: str,
    ) -> str:
        """H5 order: WeChat's cashier page for a phone browser, returning to ``return_url``."""
        data = self._order(
            WeChatPayType.H5,
            trade_no=trade_no,
            amount_fen=amount_fen,
            subject=subject,
            notify_url=notify_url,
            scene_info={"payer_client_ip": client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}},
        )
        url = str(data.get("h5_url") or "")
        if not url.startswith("https://"):
            raise PaymentFailed("WeChat Pay gave no h5_url", code=ErrorCode.PAYMENT_FAILED)
        return f"{url}&redirect_url={quote(return_url, safe='')}"

    def jsapi_params(
        self, *, trade_no: str, amount_fen: int, subject: str, notify_url: str, openid: str
    ) -> dict[str, str]:
        """JSAPI order for a buyer inside WeChat: the signed parameters of ``WeixinJSBridge`` pay."""
        data = self._order(
            WeChatPayType.JSAPI,
            trade_no=trade_no,
            amount_fen=amount_fen,
            subject=subject,
            notify_url=notify_url,
            payer={"openid": openid},
        )
        prepay_id = str(data.get("prepay_id") or "")
        if not prepay_id:
            raise PaymentFailed("WeChat Pay gave no prepay_id", code=ErrorCode.PAYMENT_FAILED)
        timestamp, nonce = str(int(self._clock().timestamp())), secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        sign = self._sdk.sign([self.appid, timestamp, nonce, package])
        return {
            "appId": self.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": str(sign),
        }

    def query(self, trade_no: str) -> Notification | None:
        """The order as WeChat Pay knows it (a signed answer): final, or None (unpaid or unknown)."""
        code, message = self._call("query", lambda: self._sdk.query(out_trade_no=trade_no))
        if code == 404:
            return None
        if code != 200:
            raise PaymentFailed(f"WeChat Pay query failed with {code}", code=ErrorCode.PAYMENT_FAILED)
        try:
            return translate_transaction(self.name, self._json(message), mchid=self.mchid, appid=self.appid)
        except PaymentFailed as err:
            if err.data.get("final") is False:
                return None
            raise

    def refund(self, *, trade_no: str, refund_no: str, amount_fen: int, reason: str) -> RefundResult:
        """Apply for a refund keyed by ``refund_no`` (WeChat's out_refund_no, so repeats are safe).

        WeChat wants the order's total beside the refund, so the order is queried first. A business
        refusal is ``accepted=False`` with WeChat's code; an unknown outcome raises ``PaymentFailed``.
        """
        paid = self.query(trade_no)
        if paid is None:
            return RefundResult(
                refund_no=refund_no, amount_fen=amount_fen, accepted=False, provider_ref="NOT_PAID"
            )
        code, message = self._call(
            "refund",
            lambda: self._sdk.refund(
                out_refund_no=refund_no,
                amount={"refund": amount_fen, "total": paid.amount_fen, "currency": "CNY"},
                out_trade_no=trade_no,
                reason=reason[:80] or None,
                notify_url=self._refund_notify_url,
            ),
        )
        data = self._json(message)
        if code == 200 and data.get("status") in _PENDING_REFUND and data.get("out_refund_no") == refund_no:
            return RefundResult(
                refund_no=refund_no,
                amount_fen=amount_fen,
                accepted=True,
                provider_ref=str(data.get("refund_id", "")),
            )
        wechat_code = str(data.get("code") or data.get("status") or code)
        if code >= 500 or wechat_code in _RETRY_CODES:
            raise PaymentFailed(
                "WeChat Pay could not process the refund now; retry with the same refund number",
                code=ErrorCode.PAYMENT_FAILED,
                provider_code=wechat_code,
            )
        return RefundResult(
            refund_no=refund_no, amount_fen=amount_fen, accepted=False, provider_ref=wechat_code
        )

    def statement(self, day: date) -> list[StatementLine]:
        """The day's trade bill (``bill_type=ALL``), its SHA1 checked, as statement lines."""
        code, message = self._call(
            "bill", lambda: self._sdk.trade_bill(bill_date=day.isoformat(), tar_type="GZIP")
        )
        if code == 400 and "NO_STATEMENT_EXIST" in str(message):
            return []
        data = self._json(message)
        if code != 200 or not data.get("download_url"):
            raise PaymentFailed(f"WeChat Pay bill call failed with {code}", code=ErrorCode.PAYMENT_FAILED)
        code, content = self._call("bill", lambda: self._sdk.download_bill(str(data["download_url"])))
        if code != 200 or not isinstance(content, bytes):
            raise PaymentFailed(f"WeChat Pay bill download failed with {code}", code=ErrorCode.PAYMENT_FAILED)
        try:
            raw = gzip.decompress(content)
        except (OSError, EOFError) as err:
            raise PaymentFailed("WeChat Pay bill is not gzip", code=ErrorCode.PAYMENT_FAILED) from err
        if hashlib.sha1(raw).hexdigest() != str(data.get("hash_value", "")).lower():  # noqa: S324 - WeChat's
            raise PaymentFailed("WeChat Pay bill does not match its hash", code=ErrorCode.SIGNATURE_INVALID)
        return parse_trade_bill(raw.decode("utf-8"))

    # --- callbacks -----------------------------------------------------------------------------

    def _resource(self, form: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
        """The event type and decrypted resource of a callback whose signature and age check out."""
        if form.get("wechatpay-signature-type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise PaymentFailed("callback signature type is not RSA2048", code=ErrorCode.SIGNATURE_INVALID)
        signature, timestamp = form.get("wechatpay-signature", ""), form.get("wechatpay-timestamp", "")
        nonce, body = form.get("wechatpay-nonce", ""), form.get(BODY, "")
        if not (signature and timestamp and nonce and body):
            raise PaymentFailed("callback is not signed", code=ErrorCode.SIGNATURE_INVALID)
        if form.get("wechatpay-serial") != self.public_key_id:
            raise PaymentFailed("callback is signed with an unknown key", code=ErrorCode.SIGNATURE_INVALID)
        if not rsa_verify(timestamp, nonce, body, signature, self._public):
            raise PaymentFailed("callback signature does not verify", code=ErrorCode.SIGNATURE_INVALID)
        if not is_fresh(timestamp, self._clock(), self._window):
            raise PaymentFailed("callback timestamp is outside the window", code=ErrorCode.SIGNATURE_INVALID)
        data = self._json(body)
        resource = data.get("resource")
        if not isinstance(resource, dict) or resource.get("algorithm") != "AEAD_AES_256_GCM":
            raise PaymentFailed("callback resource is not AES-256-GCM", code=ErrorCode.SIGNATURE_INVALID)
        try:
            text = aes_decrypt(
                nonce=str(resource.get("nonce", "")),
                ciphertext=str(resource.get("ciphertext", "")),
                associated_data=str(resource.get("associated_data") or ""),
                apiv3_key=self._apiv3_key,
            )
        except ValueError as err:  # bad base64 or nonce length
            raise PaymentFailed(
                "callback resource cannot be decrypted", code=ErrorCode.SIGNATURE_INVALID
            ) from err
        if text is None:
            raise PaymentFailed("callback resource cannot be decrypted", code=ErrorCode.SIGNATURE_INVALID)
        return str(data.get("event_type", "")), self._json(text)

    def verify_notification(self, form: Mapping[str, str]) -> Notification:
        """A payment callback, verified and decrypted (see the module doc), in our own terms."""
        event, resource = self._resource(form)
        if event != PAYMENT_EVENT:
            raise PaymentFailed(f"callback event {event} is not a payment", code=ErrorCode.PAYMENT_FAILED)
        return translate_transaction(self.name, resource, mchid=self.mchid, appid=self.appid)

    def verify_refund_notice(self, form: Mapping[str, str]) -> RefundNotice:
        """A refund callback (REFUND.SUCCESS / ABNORMAL / CLOSED), verified and decrypted."""
        event, resource = self._resource(form)
        if event not in REFUND_EVENTS or resource.get("mchid") != self.mchid:
            raise PaymentFailed(f"callback event {event} is not a refund", code=ErrorCode.PAYMENT_FAILED)
        amount = resource.get("amount")
        refund = amount.get("refund") if isinstance(amount, dict) else None
        if isinstance(refund, bool) or not isinstance(refund, int) or refund <= 0:
            raise PaymentFailed(f"malformed amount {refund!r}", code=ErrorCode.PAYMENT_FAILED)
        status = str(resource.get("refund_status", ""))
        return RefundNotice(
            provider=self.name,
            refund_no=str(resource.get("out_refund_no", "")),
            trade_no=str(resource.get("out_trade_no", "")),
            amount_fen=refund,
            succeeded=event == "REFUND.SUCCESS" and status == "SUCCESS",
            status=status or event,
            raw=cast(dict[str, str], {k: str(v) for k, v in resource.items() if not isinstance(v, dict)}),
        )

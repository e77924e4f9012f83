"""The built-in payment simulator: Alipay-shaped notifications signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from urllib.parse import quote

from carloop.clock import SHANGHAI, utcnow
from carloop.errors import ErrorCode, PaymentFailed
from carloop.payments.providers.alipay import amount_text, canonical_string, translate_notification
from carloop.payments.providers.base import Notification, NotificationStatus, PaymentStart, RefundResult
from carloop.settings import Settings

APP_ID = "carloop-simulator"
SIGN_TYPE = "HMAC-SHA256"
TRADE_STATUSES = {
    NotificationStatus.SUCCEEDED: "TRADE_SUCCESS",
    NotificationStatus.CLOSED: "TRADE_CLOSED",
}


def _digest_id(prefix: str, value: str) -> str:
    """A stable provider-style id derived from one of our numbers."""
    return prefix + hashlib.sha256(value.encode()).hexdigest()[:24].upper()


class SimulatorProvider:
    """A stand-in provider for development and tests; it never moves real money."""

    name = "simulator"

    def __init__(self, *, secret: str, clock: Callable[[], datetime] = utcnow) -> None:
        if not secret:
            raise PaymentFailed("the simulator needs a signing secret", code=ErrorCode.PAYMENT_FAILED)
        self._key = secret.encode()
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> SimulatorProvider:
        """The simulator signing with ``CARLOOP_SIMULATOR_SECRET``."""
        return cls(secret=settings.simulator_secret.get_secret_value())

    def start_payment(
        self, *, trade_no: str, amount_fen: int, subject: str, return_url: str, notify_url: str
    ) -> PaymentStart:
        """Send the buyer to carloop's own simulated cashier page for this payment."""
        amount_text(amount_fen)  # refuse the amounts Alipay would refuse
        return PaymentStart(pay_url=f"/pay/simulator/{quote(trade_no, safe='')}")

    def sign(self, form: Mapping[str, str]) -> str:
        """The hex HMAC-SHA256 of a form's canonical string."""
        return hmac.new(self._key, canonical_string(form).encode(), hashlib.sha256).hexdigest()

    def signed_notification(
        self,
        *,
        trade_no: str,
        amount_fen: int,
        status: NotificationStatus,
        provider_txn_id: str | None = None,
    ) -> dict[str, str]:
        """The form a provider would POST to our notify endpoint for this outcome, signed."""
        form = {
            "app_id": APP_ID,
            "out_trade_no": trade_no,
            "trade_no": provider_txn_id or _digest_id("SIM", trade_no),
            "total_amount": amount_text(amount_fen),
            "trade_status": TRADE_STATUSES[status],
            "notify_time": self._clock().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            "notify_id": uuid.uuid4().hex,
            "sign_type": SIGN_TYPE,
        }
        form["sign"] = self.sign(form)
        return form

    def verify_notification(self, form: Mapping[str, str]) -> Notification:
        """Check a simulated notification's HMAC and app id, then translate it like Alipay's."""
        signature = form.get("sign", "")
        if not signature:
            raise PaymentFailed("notification is not signed", code=ErrorCode.SIGNATURE_INVALID)
        if form.get("sign_type") != SIGN_TYPE:
            raise PaymentFailed("notification sign_type is not HMAC-SHA256", code=ErrorCode.SIGNATURE_INVALID)
        if not hmac.compare_digest(self.sign(form).encode(), str(signature).encode()):
            raise PaymentFailed("notification signature does not verify", code=ErrorCode.SIGNATURE_INVALID)
        if form.get("app_id") != APP_ID:
            raise PaymentFailed("notification is for another app", code=ErrorCode.SIGNATURE_INVALID)
        return translate_notification(self.name, form)

    def refund(self, *, trade_no: str, refund_no: str, amount_fen: int, reason: str) -> RefundResult:
        """Accept every refund; the same ``refund_no`` always gets the same reference."""
        amount_text(amount_fen)
        return RefundResult(
            refund_no=refund_no,
            amount_fen=amount_fen,
            accepted=True,
            provider_ref=_digest_id("SIMR", refund_no),
        )

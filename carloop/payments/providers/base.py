"""The contract every payment provider adapter meets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class NotificationStatus(StrEnum):
    """What a provider's notification says happened to a payment."""

    SUCCEEDED = "succeeded"  # the money was taken
    CLOSED = "closed"  # the payment was abandoned or timed out; no money moved


@dataclass(frozen=True, slots=True)
class PaymentStart:
    """Where to send the buyer to pay: a provider page URL (or the simulator's)."""

    pay_url: str


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified provider notification, translated out of the provider's field names."""

    provider: str
    trade_no: str  # our payment's number (Alipay: out_trade_no)
    provider_txn_id: str  # the provider's own transaction id (Alipay: trade_no)
    amount_fen: int
    status: NotificationStatus
    raw: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RefundResult:
    """The provider's answer to a refund request."""

    refund_no: str
    amount_fen: int
    accepted: bool
    provider_ref: str = ""


class PaymentProvider(Protocol):
    """A payment provider: starts payments, verifies its signed notifications, refunds."""

    name: str

    def start_payment(
        self, *, trade_no: str, amount_fen: int, subject: str, return_url: str, notify_url: str
    ) -> PaymentStart:
        """Ask the provider for a payment and return where the buyer goes to pay."""
        ...

    def verify_notification(self, form: Mapping[str, str]) -> Notification:
        """Check a notification's signature and translate it; raise ``PaymentFailed`` if forged."""
        ...

    def refund(self, *, trade_no: str, refund_no: str, amount_fen: int, reason: str) -> RefundResult:
        """Return money for a payment; calling again with the same ``refund_no`` refunds nothing more."""
        ...

"""The contract every payment provider adapter meets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol, runtime_checkable


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


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One line of a provider's daily statement: a payment taken or a refund made, in fen."""

    kind: str  # "payment" or "refund"
    trade_no: str  # our payment's number
    provider_txn_id: str
    amount_fen: int
    refund_no: str = ""  # our refund number (refund lines)


@runtime_checkable
class Reconcilable(Protocol):
    """A provider that can say what it took on a day and what it knows of one payment."""

    name: str

    def statement(self, day: date) -> list[StatementLine]:
        """Every payment and refund of the day (Beijing time) as the provider's statement lists them."""
        ...

    def query(self, trade_no: str) -> Notification | None:
        """The provider's final word on a payment (a verified answer), or None while it is not final."""
        ...


@dataclass(frozen=True, slots=True)
class RefundNotice:
    """A verified provider callback about one refund: did the money reach the buyer?"""

    provider: str
    refund_no: str  # our refund number
    trade_no: str
    amount_fen: int
    succeeded: bool  # False: the refund failed (abnormal) or was closed
    status: str = ""  # the provider's own word for it
    raw: Mapping[str, str] = field(default_factory=dict)

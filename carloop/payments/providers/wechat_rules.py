"""Pure WeChat Pay API v3 rules: callback fields, transaction translation, the trade bill's lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from carloop.errors import ErrorCode, PaymentFailed
from carloop.money import FEN_PER_YUAN
from carloop.payments.providers.base import Notification, NotificationStatus, StatementLine

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
CALLBACK_HEADERS = (
    "wechatpay-signature",
    "wechatpay-timestamp",
    "wechatpay-nonce",
    "wechatpay-serial",
    "wechatpay-signature-type",
)
BODY = "body"  # the callback's raw JSON body, beside its headers, in the fields a provider verifies
TRADE_STATES = {
    "SUCCESS": NotificationStatus.SUCCEEDED,
    "CLOSED": NotificationStatus.CLOSED,
    "REVOKED": NotificationStatus.CLOSED,
    "PAYERROR": NotificationStatus.CLOSED,
}
PAYMENT_EVENT = "TRANSACTION.SUCCESS"
REFUND_EVENTS = ("REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED")
_TOTAL_ROW = "总交易单数"  # the bill's summary starts here


def callback_fields(headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    """A callback's signed headers (lower-case names) and its body, as the fields a provider verifies."""
    fields = {name: headers.get(name, "") for name in CALLBACK_HEADERS}
    try:
        fields[BODY] = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PaymentFailed("The callback body is not UTF-8.", code=ErrorCode.SIGNATURE_INVALID) from err
    return fields


def signed_text(timestamp: str, nonce: str, body: str) -> str:
    """What WeChat Pay signs on a callback or an answer: ``timestamp\\nnonce\\nbody\\n``."""
    return f"{timestamp}\n{nonce}\n{body}\n"


def is_fresh(timestamp: str, now: datetime, window_seconds: int) -> bool:
    """Whether a callback's Unix timestamp is within ``window_seconds`` of ``now`` (either way)."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(int(timestamp) - int(now.timestamp())) <= window_seconds


def _fen(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PaymentFailed(f"malformed amount {value!r}", code=ErrorCode.PAYMENT_FAILED)
    return value


def translate_transaction(
    provider: str, resource: Mapping[str, Any], *, mchid: str, appid: str
) -> Notification:
    """A verified WeChat Pay transaction (callback resource or query answer) in our own terms."""
    if resource.get("mchid") != mchid or resource.get("appid") != appid:
        raise PaymentFailed("The transaction is for another merchant.", code=ErrorCode.SIGNATURE_INVALID)
    trade_no = str(resource.get("out_trade_no") or "")
    if not trade_no:
        raise PaymentFailed("The transaction has no out_trade_no.", code=ErrorCode.PAYMENT_FAILED)
    state = str(resource.get("trade_state") or "")
    status = TRADE_STATES.get(state)
    if status is None:  # NOTPAY, USERPAYING, REFUND: not a payment outcome to record
        raise PaymentFailed(
            f"trade state {state} is not final",
            code=ErrorCode.PAYMENT_FAILED,
            trade_status=state,
            final=False,
        )
    amount = resource.get("amount")
    total = amount.get("total") if isinstance(amount, Mapping) else None
    raw = {
        "out_trade_no": trade_no,
        "transaction_id": str(resource.get("transaction_id") or ""),
        "trade_state": state,
        "total": str(total),
        "success_time": str(resource.get("success_time") or ""),
    }
    if status is NotificationStatus.SUCCEEDED and not raw["transaction_id"]:
        raise PaymentFailed("The transaction has no transaction_id.", code=ErrorCode.PAYMENT_FAILED)
    return Notification(
        provider=provider,
        trade_no=trade_no,
        provider_txn_id=raw["transaction_id"],
        amount_fen=_fen(total),
        status=status,
        raw=raw,
    )


def _bill_fen(text: str) -> int:
    try:
        value = Decimal(text.strip().lstrip("`") or "0") * FEN_PER_YUAN
    except InvalidOperation as err:
        raise PaymentFailed(f"malformed bill amount {text!r}", code=ErrorCode.PAYMENT_FAILED) from err
    if value != value.to_integral_value():
        raise PaymentFailed(f"malformed bill amount {text!r}", code=ErrorCode.PAYMENT_FAILED)
    return int(value)


def parse_trade_bill(text: str) -> list[StatementLine]:
    """The lines of a tradebill (``bill_type=ALL``): a CSV whose values start with a backtick.

    A ``SUCCESS`` row is a payment of 应结订单金额; a ``REFUND`` row is a refund of 退款金额 with its
    商户退款单号. The summary after 总交易单数 is not a line.
    """
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    try:
        col = {name: header.index(name) for name in ("微信订单号", "商户订单号", "交易状态", "应结订单金额")}
        refund_no_col, refund_col = header.index("商户退款单号"), header.index("退款金额")
    except ValueError as err:
        raise PaymentFailed("The trade bill has an unknown layout.", code=ErrorCode.PAYMENT_FAILED) from err
    lines = []
    for row in rows[1:]:
        if not row or row[0].strip().lstrip("`") == _TOTAL_ROW or row[0].startswith(_TOTAL_ROW):
            break
        cell = [c.strip().lstrip("`") for c in row]
        if len(cell) < len(header):
            raise PaymentFailed("The trade bill has a short line.", code=ErrorCode.PAYMENT_FAILED)
        state = cell[col["交易状态"]]
        trade_no, txn = cell[col["商户订单号"]], cell[col["微信订单号"]]
        if state == "SUCCESS":
            lines.append(StatementLine("payment", trade_no, txn, _bill_fen(cell[col["应结订单金额"]])))
        elif state == "REFUND":
            lines.append(
                StatementLine("refund", trade_no, txn, _bill_fen(cell[refund_col]), cell[refund_no_col])
            )
    return lines

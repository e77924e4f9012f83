"""Pure parsing of Alipay's trade bill (业务明细): the zip's detail CSV as statement lines."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal, InvalidOperation

from carloop.errors import ErrorCode, PaymentFailed
from carloop.money import FEN_PER_YUAN
from carloop.payments.providers.base import StatementLine

DETAIL = "业务明细.csv"  # the detail file's name ends so (the summary's ends 业务明细(汇总).csv)
COLUMNS = ("支付宝交易号", "商户订单号", "业务类型", "订单金额（元）", "退款批次号/请求号")


def _fen(text: str) -> int:
    try:
        value = abs(Decimal(text or "0")) * FEN_PER_YUAN
    except InvalidOperation as err:
        raise PaymentFailed(f"malformed bill amount {text!r}", code=ErrorCode.PAYMENT_FAILED) from err
    if value != value.to_integral_value():
        raise PaymentFailed(f"malformed bill amount {text!r}", code=ErrorCode.PAYMENT_FAILED)
    return int(value)


def parse_detail(text: str) -> list[StatementLine]:
    """The detail CSV: ``#`` comment lines around a header row, a row per trade (交易) or refund (退款)."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].lstrip().startswith("#")]
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    try:
        col = {name: header.index(name) for name in COLUMNS}
    except ValueError as err:
        raise PaymentFailed("The Alipay bill has an unknown layout.", code=ErrorCode.PAYMENT_FAILED) from err
    lines = []
    for row in rows[1:]:
        cell = [c.strip() for c in row]
        if len(cell) < len(header):
            raise PaymentFailed("The Alipay bill has a short line.", code=ErrorCode.PAYMENT_FAILED)
        kind = cell[col["业务类型"]]
        txn, trade_no, amount = (
            cell[col["支付宝交易号"]],
            cell[col["商户订单号"]],
            cell[col["订单金额（元）"]],
        )
        if kind == "交易":
            lines.append(StatementLine("payment", trade_no, txn, _fen(amount)))
        elif kind == "退款":
            lines.append(StatementLine("refund", trade_no, txn, _fen(amount), cell[col["退款批次号/请求号"]]))
    return lines


def parse_bill_zip(content: bytes) -> list[StatementLine]:
    """The lines of the detail CSV inside Alipay's bill zip (GBK text, as Alipay writes it)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = [n for n in archive.namelist() if n.endswith(DETAIL)]
            if len(names) != 1:
                raise PaymentFailed("The Alipay bill has an unknown layout.", code=ErrorCode.PAYMENT_FAILED)
            raw = archive.read(names[0])
    except zipfile.BadZipFile as err:
        raise PaymentFailed("The Alipay bill is not a zip file.", code=ErrorCode.PAYMENT_FAILED) from err
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError as err:
        raise PaymentFailed("The Alipay bill is not GBK text.", code=ErrorCode.PAYMENT_FAILED) from err
    return parse_detail(text)

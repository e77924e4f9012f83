"""A stand-in for Alipay's gateway (gateway.do) that the launch and crash benches start beside the server.

The benches play Alipay's notify side (``launch_payments`` signs the notifications); the served
process also calls Alipay: its daily reconciliation job, once at start-up, asks for yesterday's trade
bill (``alipay.data.dataservice.bill.downloadurl.query``, then the zip) and, for a difference, the
trade (``alipay.trade.query``). The server is pointed here with ``CARLOOP_ALIPAY_GATEWAY`` and checks
every answer's RSA2 signature with the Alipay public key the bench gave it, as it would Alipay's.

It plays a merchant account whose bills are empty: the bench's trades are all today's (paid by the
notifications it signs) and the job reconciles yesterday, so an empty bill is the true one; a trade
it is asked about is ``ACQ.TRADE_NOT_EXIST``. It does not check the app's signature on the calls.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BILL_RESPONSE = "alipay_data_dataservice_bill_downloadurl_query_response"
QUERY_RESPONSE = "alipay_trade_query_response"
# The detail file's header row as Alipay writes it (carloop.payments.providers.alipay_bill reads it).
BILL_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
    "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def empty_bill(day: str) -> bytes:
    """A day's trade bill zip with no trades: the detail CSV (GBK, as Alipay writes it) and the summary."""
    compact = day.replace("-", "")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        detail = f"#支付宝业务明细查询\n#账号：[2088]\n#起始日期：[{day}]\n{BILL_HEADER}\n#结束\n"
        archive.writestr(f"2088_{compact}_业务明细.csv", detail.encode("gbk"))
        archive.writestr(f"2088_{compact}_业务明细(汇总).csv", "#汇总\n".encode("gbk"))
    return buffer.getvalue()


class AlipayGateway:
    """The stand-in: signs its answers with the bench's "Alipay" private key; counts the calls."""

    def __init__(self, private_key_pem: str) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self._key = key
        self.calls: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="alipay-gateway", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def signed(self, response_type: str, answer: dict[str, str]) -> bytes:
        """``{"<method>_response": {...}, "sign": ...}``: RSA2 over the answer's exact JSON text."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        inner = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
        sign = base64.b64encode(self._key.sign(inner.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
        return f'{{"{response_type}":{inner},"sign":"{sign}"}}'.encode()

    def answer(self, path: str, query: str) -> tuple[str, bytes]:
        """(content type, body) for one GET."""
        params = dict(parse_qsl(query))
        if path == "/bill":
            self.calls["bill download"] += 1
            return "application/zip", empty_bill(params.get("day", ""))
        method = params.get("method", "")
        self.calls[method or "?"] += 1
        biz: dict[str, Any] = json.loads(params.get("biz_content") or "{}")
        if method == "alipay.data.dataservice.bill.downloadurl.query":
            day = str(biz.get("bill_date", ""))
            found = {"code": "10000", "msg": "Success", "bill_download_url": f"{self.url}/bill?day={day}"}
            return "application/json", self.signed(BILL_RESPONSE, found)
        if method == "alipay.trade.query":
            missing = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}
            return "application/json", self.signed(QUERY_RESPONSE, missing)
        refused = {"code": "40004", "msg": "Business Failed", "sub_code": "isv.method-not-played"}
        return "application/json", self.signed(f"{method.replace('.', '_')}_response", refused)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                content_type, body = gateway.answer(parts.path, parts.query)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the bench's output is its report

        return Handler


@contextmanager
def running(private_key_pem: str) -> Iterator[AlipayGateway]:
    """The stand-in, serving on a free local port until the block ends."""
    gateway = AlipayGateway(private_key_pem)
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()

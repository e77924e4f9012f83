"""A local stand-in of WeChat Pay's API v3, served on a free port, for tests that play WeChat Pay.

It checks every request's ``Authorization: WECHATPAY2-SHA256-RSA2048 ...`` the way WeChat Pay does
(the merchant's key over ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n``, the merchant id and the
certificate serial, a timestamp within five minutes), signs its answers with its own platform key,
and sends callbacks signed over ``timestamp\\nnonce\\nbody\\n`` with the resource AES-256-GCM
encrypted under the APIv3 key. Keys are generated here, per stand-in.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0114232134912410000000000000"
AUTH = re.compile(r"^WECHATPAY2-SHA256-RSA2048 (.*)$")
BILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
    "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)


def pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def pem_public(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _sign(key: rsa.RSAPrivateKey, text: str) -> str:
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def _yuan(fen: int) -> str:
    return f"`{fen // 100}.{fen % 100:02d}"


@dataclass
class Order:
    trade_no: str
    total: int
    notify_url: str
    kind: str
    state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: str = ""
    refunded: int = 0


@dataclass
class Callback:
    """A callback as WeChat Pay sends it: headers and the raw JSON body."""

    headers: dict[str, str]
    body: str
    url: str = ""


@dataclass
class WeChatPayStandIn:
    """WeChat Pay's part: orders, payments, refunds, bills and callbacks, with keys of its own."""

    merchant_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    platform_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    apiv3_key: str = field(default_factory=lambda: secrets.token_hex(16))
    url: str = ""  # where this stand-in is served (set by ``serve``)
    public: str = ""  # carloop's public address in notify URLs, and where the test reaches it
    local: str = ""
    orders: dict[str, Order] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # why requests were refused (bad signatures...)
    calls: list[str] = field(default_factory=list)  # "METHOD path" of every authorized request
    bill_extra: list[str] = field(default_factory=list)  # raw lines the test adds to every bill
    bill_amounts: dict[str, int] = field(default_factory=dict)  # trade_no -> amount the bill claims

    def settings(self) -> dict[str, Any]:
        """The ``CARLOOP_WECHAT_*`` settings of a merchant served by this stand-in."""
        return {
            "wechat_mchid": MCHID,
            "wechat_appid": APPID,
            "wechat_cert_serial_no": SERIAL,
            "wechat_private_key": SecretStr(pem_private(self.merchant_key)),
            "wechat_apiv3_key": SecretStr(self.apiv3_key),
            "wechat_public_key": pem_public(self.platform_key),
            "wechat_public_key_id": PUBLIC_KEY_ID,
            "wechat_gateway": self.url,
        }

    # --- WeChat Pay's checks and signatures --------------------------------------------------

    def _authorized(self, request: Request, body: bytes) -> str:
        """Why the request's Authorization is refused, or "" (checked as WeChat Pay checks it)."""
        match = AUTH.match(request.headers.get("authorization", ""))
        if not match:
            return "no WECHATPAY2-SHA256-RSA2048 authorization"
        parts = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if parts.get("mchid") != MCHID or parts.get("serial_no") != SERIAL:
            return "unknown merchant or certificate serial"
        if abs(int(parts.get("timestamp", "0")) - int(time.time())) > 300:
            return "stale request"
        path = request.scope["raw_path"].decode()
        if request.scope.get("query_string"):
            path += "?" + request.scope["query_string"].decode()
        text = f"{request.method}\n{path}\n{parts['timestamp']}\n{parts['nonce_str']}\n{body.decode()}\n"
        try:
            self.merchant_key.public_key().verify(
                base64.b64decode(parts.get("signature", "")),
                text.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return "signature does not verify"
        return ""

    def signed_headers(self, body: str, *, timestamp: int | None = None, key: Any = None) -> dict[str, str]:
        ts, nonce = str(int(time.time()) if timestamp is None else timestamp), secrets.token_hex(16)
        return {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": _sign(key or self.platform_key, f"{ts}\n{nonce}\n{body}\n"),
            "Wechatpay-Serial": PUBLIC_KEY_ID,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def _answer(self, status: int, data: dict[str, Any]) -> Response:
        body = json.dumps(data, ensure_ascii=False)
        headers = self.signed_headers(body) if status < 300 else {}
        return Response(body, status_code=status, media_type="application/json", headers=headers)

    def callback(
        self, event: str, resource: dict[str, Any], *, timestamp: int | None = None, key: Any = None
    ) -> Callback:
        """A callback with ``resource`` encrypted under the APIv3 key and the body signed."""
        nonce, associated = (
            secrets.token_hex(6),
            "transaction" if event.startswith("TRANSACTION") else "refund",
        )
        plain = json.dumps(resource, ensure_ascii=False).encode()
        cipher = AESGCM(self.apiv3_key.encode()).encrypt(nonce.encode(), plain, associated.encode())
        body = json.dumps(
            {
                "id": secrets.token_hex(8),
                "create_time": "2026-12-07T10:00:00+08:00",
                "resource_type": "encrypt-resource",
                "event_type": event,
                "summary": "支付成功",
                "resource": {
                    "original_type": associated,
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(cipher).decode(),
                    "associated_data": associated,
                    "nonce": nonce,
                },
            },
            ensure_ascii=False,
        )
        return Callback(self.signed_headers(body, timestamp=timestamp, key=key), body)

    # --- the payer's side ----------------------------------------------------------------------

    def _transaction(self, order: Order) -> dict[str, Any]:
        return {
            "appid": APPID,
            "mchid": MCHID,
            "out_trade_no": order.trade_no,
            "transaction_id": order.transaction_id,
            "trade_type": order.kind,
            "trade_state": order.state,
            "trade_state_desc": order.state,
            "success_time": order.success_time,
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": order.total, "payer_total": order.total, "currency": "CNY"},
        }

    def pay(self, trade_no: str, *, timestamp: int | None = None) -> Callback:
        """The buyer pays: the order is paid at WeChat Pay, and this is the callback it would send."""
        order = self.orders[trade_no]
        if order.state != "SUCCESS":
            order.state = "SUCCESS"
            order.transaction_id = (
                f"42000000{len([o for o in self.orders.values() if o.transaction_id]):020d}"
            )
            order.success_time = "2026-12-07T10:00:00+08:00"
        made = self.callback("TRANSACTION.SUCCESS", self._transaction(order), timestamp=timestamp)
        made.url = order.notify_url
        return made

    def refund_callback(self, refund_no: str, *, status: str = "SUCCESS") -> Callback:
        refund = self.refunds[refund_no]
        event = "REFUND.SUCCESS" if status == "SUCCESS" else f"REFUND.{status}"
        made = self.callback(event, {**refund, "mchid": MCHID, "refund_status": status})
        made.url = refund["notify_url"]
        return made

    def deliver(self, made: Callback) -> httpx.Response:
        """Post a callback to carloop where this test serves it (the public address mapped to local)."""
        assert made.url.startswith(self.public + "/"), made.url
        return httpx.post(self.local + made.url[len(self.public) :], content=made.body, headers=made.headers)

    def bill_text(self) -> str:
        lines = [BILL_HEADER]
        for order in self.orders.values():
            if order.state == "SUCCESS":
                amount = self.bill_amounts.get(order.trade_no, order.total)
                lines.append(
                    f"`2026-12-07 10:00:00,`{APPID},`{MCHID},`0,`,`{order.transaction_id},`{order.trade_no},"
                    f"`oUpF8,`{order.kind},`SUCCESS,`OTHERS,`CNY,{_yuan(amount)},`0.00,`0,`0,`0.00,`0.00,`,`,"
                    f"`carloop,`,`0.00,`0.60%,{_yuan(amount)},`0.00,`"
                )
        for refund in self.refunds.values():
            order = self.orders[refund["out_trade_no"]]
            lines.append(
                f"`2026-12-07 11:00:00,`{APPID},`{MCHID},`0,`,`{order.transaction_id},`{order.trade_no},"
                f"`oUpF8,`{order.kind},`REFUND,`OTHERS,`CNY,`0.00,`0.00,`{refund['refund_id']},"
                f"`{refund['out_refund_no']},{_yuan(refund['amount']['refund'])},`0.00,`ORIGINAL,`SUCCESS,"
                f"`carloop,`,`0.00,`0.60%,{_yuan(order.total)},{_yuan(refund['amount']['refund'])},`"
            )
        lines.extend(self.bill_extra)
        lines.append(
            "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
        )
        lines.append(f"`{len(lines) - 2},`0.00,`0.00,`0.00,`0.00,`0.00,`0.00")
        return "\n".join(lines) + "\n"

    # --- the HTTP API ----------------------------------------------------------------------------

    async def _route(self, request: Request) -> Response:
        body = await request.body()
        refused = self._authorized(request, body)
        if refused:
            self.refused.append(refused)
            return JSONResponse({"code": "SIGN_ERROR", "message": refused}, status_code=401)
        path, data = request.url.path, json.loads(body) if body else {}
        self.calls.append(f"{request.method} {path}")
        if request.method == "POST" and path.startswith("/v3/pay/transactions/"):
            kind = path.rsplit("/", 1)[-1].upper()
            if data.get("mchid") != MCHID or data.get("appid") != APPID:
                return JSONResponse({"code": "PARAM_ERROR", "message": "mchid"}, status_code=400)
            order = self.orders.setdefault(
                data["out_trade_no"],
                Order(data["out_trade_no"], data["amount"]["total"], data["notify_url"], kind),
            )
            prepay = "wx" + hashlib.sha256(order.trade_no.encode()).hexdigest()[:30]
            if kind == "NATIVE":
                return self._answer(200, {"code_url": f"weixin://wxpay/bizpayurl?pr={prepay[:12]}"})
            if kind == "H5":
                return self._answer(
                    200,
                    {"h5_url": f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay}"},
                )
            return self._answer(200, {"prepay_id": prepay})
        if request.method == "GET" and path.startswith("/v3/pay/transactions/out-trade-no/"):
            found = self.orders.get(path.rsplit("/", 1)[-1])
            if found is None:
                return JSONResponse({"code": "ORDER_NOT_EXIST", "message": "no such order"}, status_code=404)
            return self._answer(200, self._transaction(found))
        if request.method == "POST" and path == "/v3/refund/domestic/refunds":
            return self._refund(data)
        if path == "/v3/bill/tradebill":
            raw = self.bill_text().encode()
            return self._answer(
                200,
                {
                    "hash_type": "SHA1",
                    "hash_value": hashlib.sha1(raw).hexdigest(),
                    "download_url": f"{self.url}/v3/billdownload/file?token=t",
                },
            )
        if path == "/v3/billdownload/file":
            return Response(gzip.compress(self.bill_text().encode()), media_type="application/octet-stream")
        return JSONResponse({"code": "NOT_FOUND"}, status_code=404)

    def _refund(self, data: dict[str, Any]) -> Response:
        existing = self.refunds.get(data["out_refund_no"])
        if existing is not None:
            return self._answer(200, {**existing, "status": "PROCESSING"})
        order = self.orders.get(data.get("out_trade_no", ""))
        if order is None or order.state != "SUCCESS":
            return JSONResponse({"code": "RESOURCE_NOT_EXISTS", "message": "no paid order"}, status_code=404)
        amount = data["amount"]
        if amount["total"] != order.total or amount["refund"] > order.total - order.refunded:
            return JSONResponse(
                {"code": "NOT_ENOUGH", "message": "refund exceeds what is left"}, status_code=403
            )
        order.refunded += amount["refund"]
        refund = {
            "refund_id": f"50300000{len(self.refunds):020d}",
            "out_refund_no": data["out_refund_no"],
            "transaction_id": order.transaction_id,
            "out_trade_no": order.trade_no,
            "notify_url": data.get("notify_url", ""),
            "amount": {"total": order.total, "refund": amount["refund"], "currency": "CNY"},
        }
        self.refunds[data["out_refund_no"]] = refund
        return self._answer(200, {**refund, "status": "PROCESSING"})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._route, methods=["GET", "POST"])])


@contextmanager
def serve(standin: WeChatPayStandIn) -> Iterator[WeChatPayStandIn]:
    """Serve the stand-in on a free local port for the duration of the block."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    standin.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(standin.app(), log_config=None, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the stand-in did not start"
        time.sleep(0.02)
    try:
        yield standin
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

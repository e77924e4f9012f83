"""A local stand-in of Tencent Cloud's API for FaceID ``IdCardVerification``, served on a free port.

It checks each request as Tencent Cloud's API gateway does (TC3-HMAC-SHA256, "签名方法 v3"): the
``Authorization`` header's algorithm, SecretId, credential scope (date / service / ``tc3_request``) and
signed headers; the timestamp within five minutes and on the scope's date; then it rebuilds the
canonical request (method, URI, query, the signed headers lower-cased and trimmed, the SHA-256 of the
payload), the string to sign and the signing key chain (``TC3`` + SecretKey → date → service →
``tc3_request``) and compares the signature. A wrong signature, an unknown SecretId, an expired
timestamp or a wrong action gets Tencent Cloud's error envelope (HTTP 200, ``Response.Error``).

Identities are a dict of number → name: a known number with the same name answers Result ``"0"``, another
name ``"-1"``, an unknown number ``"-5"``; ``down()`` makes the identity database answer ``"-4"``;
``stop()`` takes the whole API off the network. ``calls`` records (action, IdCard) of each signed call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SERVICE = "faceid"
VERSION = "2018-03-01"
_AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z]+)/tc3_request,"
    r" SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def tc3_signature(
    secret_key: str,
    *,
    method: str,
    uri: str,
    query: str,
    headers: dict[str, str],
    signed: list[str],
    payload: bytes,
    timestamp: int,
    service: str,
) -> str:
    """The TC3-HMAC-SHA256 signature of a request, computed from the documented algorithm."""
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed)
    canonical_request = "\n".join(
        [method, uri, query, canonical_headers, ";".join(signed), hashlib.sha256(payload).hexdigest()]
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class TencentCloud:
    """The stand-in: ``endpoint`` is ``http://127.0.0.1:<port>``; ``start()``/``stop()`` serve it."""

    def __init__(self, secret_id: str, secret_key: str, identities: dict[str, str] | None = None) -> None:
        self.keys = {secret_id: secret_key}
        self.identities = dict(identities or {})
        self.calls: list[tuple[str, str]] = []
        self.refused: list[str] = []  # the error codes it answered
        self.database_down = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint = ""

    def start(self) -> TencentCloud:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = stand_in.answer("POST", self.path, headers, body)
                data = json.dumps({"Response": reply}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args  # quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="tencent-cloud", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Off the network: the port is closed (a connection is refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = None

    def down(self) -> None:
        """The identity database is out of service (FaceID answers Result "-4")."""
        self.database_down = True

    # --- what the API answers -----------------------------------------------------------------

    def _error(self, code: str, message: str) -> dict[str, Any]:
        self.refused.append(code)
        return {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        """The ``Response`` object Tencent Cloud would send for this request."""
        refused = self._check_signature(method, path, headers, body)
        if refused is not None:
            return refused
        if headers.get("x-tc-action") != "IdCardVerification" or headers.get("x-tc-version") != VERSION:
            return self._error("InvalidAction", "The action or version is not supported by FaceID here.")
        if not headers.get("x-tc-region"):
            return self._error("MissingParameter", "X-TC-Region is required.")
        try:
            params = json.loads(body)
        except ValueError:
            return self._error("InvalidParameter", "The body is not JSON.")
        number, name = str(params.get("IdCard", "")), str(params.get("Name", ""))
        self.calls.append(("IdCardVerification", number))
        request_id = str(uuid.uuid4())
        if self.database_down:
            return {"Result": "-4", "Description": "证件库服务异常", "RequestId": request_id}
        known = self.identities.get(number)
        if known is None:
            return {"Result": "-5", "Description": "证件库中无此身份证记录", "RequestId": request_id}
        if known != name:
            return {"Result": "-1", "Description": "姓名和身份证号不一致", "RequestId": request_id}
        return {"Result": "0", "Description": "姓名和身份证号一致", "RequestId": request_id}

    def _check_signature(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any] | None:
        auth = _AUTH.match(headers.get("authorization", ""))
        if auth is None:
            return self._error("AuthFailure.InvalidAuthorization", "The Authorization header is malformed.")
        secret_key = self.keys.get(auth["id"])
        if secret_key is None:
            return self._error("AuthFailure.SecretIdNotFound", "The SecretId does not exist.")
        signed = auth["signed"].split(";")
        if "host" not in signed or "content-type" not in signed or signed != sorted(signed):
            return self._error("AuthFailure.InvalidAuthorization", "host and content-type must be signed.")
        try:
            timestamp = int(headers.get("x-tc-timestamp", ""))
        except ValueError:
            return self._error("MissingParameter", "X-TC-Timestamp is required.")
        if abs(time.time() - timestamp) > 300:
            return self._error("AuthFailure.SignatureExpire", "The request's timestamp is too far off.")
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        if auth["date"] != date or auth["service"] != SERVICE:
            return self._error("AuthFailure.InvalidAuthorization", "The credential scope does not match.")
        uri, _, query = path.partition("?")
        expected = tc3_signature(
            secret_key,
            method=method,
            uri=uri,
            query=query,
            headers=headers,
            signed=signed,
            payload=body,
            timestamp=timestamp,
            service=SERVICE,
        )
        if not hmac.compare_digest(expected, auth["sig"]):
            return self._error("AuthFailure.SignatureFailure", "The request signature is wrong.")
        return None

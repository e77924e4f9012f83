"""Local stand-ins of Alibaba Cloud SMS and Tencent Cloud SMS, for tests and browser tests.

Each is a real HTTP server on a free local port that checks every request's signature the way the
provider does (Alibaba Cloud: ACS3-HMAC-SHA256 over the canonical request, fresh date, unused nonce;
Tencent Cloud: TC3-HMAC-SHA256 with the date/service/tc3_request key chain, fresh timestamp) and
refuses a wrong one with the provider's error. It remembers every accepted message, so a test can
read the sign-in code a buyer would get on the phone.

Use::

    from stand_ins.sms import SmsStandIn, serve_sms

    with serve_sms("tencent") as sms:              # or "aliyun"
        settings = Settings(..., **sms.settings())  # CARLOOP_SMS_* for carloop, keys made up per run
        ...                                         # sign in: carloop sends the code through the stand-in
        code = sms.last_code("+8613800138000")

    sms.outage = 3              # answer the next three requests with a 503 (provider outage)
    sms.refuse = "isv.MOBILE_NUMBER_ILLEGAL"  # answer every request with this business error
    sms.received                # every accepted message: Received(phone, template, params, sign_name)

The pytest fixtures ``aliyun_sms`` and ``tencent_sms`` (``pytest_plugins = ["stand_ins.sms"]``) serve
one per test. ``env()`` gives the same settings as ``CARLOOP_*`` environment variables for a server
started in another process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from carloop.sms.rules import TEMPLATES

SIGN_NAME = "卡路智行"
TENCENT_APP_ID = "1400000001"
FRESH = timedelta(minutes=5)
_MAINLAND = re.compile(r"(?:\+?86)?(1\d{10})")


@dataclass(frozen=True)
class Received:
    """One message the stand-in accepted."""

    phone: str  # always "+86..." whatever the provider's own format
    template: str
    params: dict[str, str]
    sign_name: str


@dataclass
class SmsStandIn:
    """The provider's state: its keys, its approved templates, what it received, how it misbehaves."""

    provider: str
    key_id: str = field(default_factory=lambda: "LTAI" + secrets.token_hex(8))
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    url: str = ""
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # error codes answered, newest last
    outage: int = 0  # answer this many next requests with HTTP 503
    refuse: str | None = None  # answer every request with this business error code
    _nonces: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def templates(self) -> dict[str, str]:
        """Template code per purpose, as the provider approved them (and an English variant of each)."""
        prefix = "SMS_" if self.provider == "aliyun" else ""
        codes = {purpose: f"{prefix}{100000 + i}" for i, purpose in enumerate(sorted(TEMPLATES))}
        codes |= {f"{purpose}:en": f"{prefix}{200000 + i}" for i, purpose in enumerate(sorted(TEMPLATES))}
        return codes

    def purpose_of(self, template: str) -> str | None:
        """The purpose a template code was approved for."""
        return next((p.split(":")[0] for p, code in self.templates.items() if code == template), None)

    def settings(self) -> dict[str, Any]:
        """carloop ``Settings`` keyword arguments that send through this stand-in."""
        return {
            "sms_provider": self.provider,
            "sms_access_key_id": self.key_id,
            "sms_access_key_secret": self.secret,
            "sms_sign_name": SIGN_NAME,
            "sms_app_id": TENCENT_APP_ID if self.provider == "tencent" else "",
            "sms_endpoint": self.url,
            "sms_templates": self.templates,
        }

    def env(self) -> dict[str, str]:
        """The same as ``CARLOOP_*`` environment variables."""
        return {
            f"CARLOOP_{name.upper()}": json.dumps(value) if isinstance(value, dict) else str(value)
            for name, value in self.settings().items()
        }

    def to(self, phone: str) -> list[Received]:
        """Messages accepted for ``phone`` (``+86...``), oldest first."""
        return [m for m in self.received if m.phone == phone]

    def last_code(self, phone: str) -> str:
        """The newest sign-in code sent to ``phone``."""
        codes = [m.params["code"] for m in self.to(phone) if "code" in m.params]
        if not codes:
            raise LookupError(f"no sign-in code was sent to {phone}")
        return codes[-1]

    # --- the API -------------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON answer) for one request."""
        with self._lock:
            if self.outage > 0:
                self.outage -= 1
                self.refused.append("outage")
                if self.provider == "aliyun":
                    return 503, {
                        "Code": "ServiceUnavailable",
                        "Message": "stand-in outage",
                        "RequestId": _id(),
                    }
                return 503, {"message": "stand-in outage"}
            if self.provider == "aliyun":
                status, answer = self._aliyun(method, target, headers, body)
            else:
                status, answer = self._tencent(method, target, headers, body)
            code = answer.get("Code") or answer.get("Response", {}).get("Error", {}).get("Code")
            if code and code != "OK":
                self.refused.append(str(code))
            return status, answer

    def _accept(self, phone: str, template: str, params: dict[str, str], sign_name: str) -> str | None:
        """The error code for a well-signed request, or None after recording the message."""
        purpose = self.purpose_of(template)
        if self.refuse:
            return self.refuse
        if purpose is None:
            return "template"
        if sign_name != SIGN_NAME:
            return "sign"
        if set(params) != set(TEMPLATES[purpose].params):
            return "params"
        match = _MAINLAND.fullmatch(phone)
        if not match:
            return "phone"
        self.received.append(Received("+86" + match.group(1), template, params, sign_name))
        return None

    def _aliyun(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        problem = aliyun_signature_problem(self, method, target, headers, body)
        if problem:
            return problem
        parts = urlsplit(target)
        fields = dict(parse_qsl(parts.query, keep_blank_values=True))
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            fields |= dict(parse_qsl(body.decode(), keep_blank_values=True))
        if headers.get("x-acs-action") != "SendSms":
            return 400, {"Code": "InvalidAction.NotFound", "Message": "unknown action", "RequestId": _id()}
        try:
            params = {k: str(v) for k, v in json.loads(fields.get("TemplateParam") or "{}").items()}
        except ValueError:
            params = {"": ""}
        phones = fields.get("PhoneNumbers", "").split(",")  # up to 1000, comma-separated
        error = "phone" if len(phones) > 1000 else None
        if error is None and len(phones) > 1 and not all(_MAINLAND.fullmatch(p) for p in phones):
            error = "phone"  # a bad number refuses the whole request
        for phone in phones if error is None else ():
            error = self._accept(phone, fields.get("TemplateCode", ""), params, fields.get("SignName", ""))
            if error:
                break
        codes = {
            "template": "isv.SMS_TEMPLATE_ILLEGAL",
            "sign": "isv.SMS_SIGNATURE_ILLEGAL",
            "params": "isv.TEMPLATE_MISSING_PARAMETERS",
            "phone": "isv.MOBILE_NUMBER_ILLEGAL",
        }
        if error:
            return 200, {
                "Code": codes.get(error, error),
                "Message": "refused by the stand-in",
                "RequestId": _id(),
            }
        return 200, {
            "Code": "OK",
            "Message": "OK",
            "BizId": f"{secrets.randbelow(10**15)}^0",
            "RequestId": _id(),
        }

    def _tencent(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        problem = tencent_signature_problem(self, method, target, headers, body)
        if problem:
            return 200, _tencent_error(problem)
        if headers.get("x-tc-action") != "SendSms":
            return 200, _tencent_error("InvalidAction")
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return 200, _tencent_error("InvalidParameter")
        if payload.get("SmsSdkAppId") != TENCENT_APP_ID:
            return 200, _tencent_error("UnauthorizedOperation.SmsSdkAppIdVerifyFail")
        phones = payload.get("PhoneNumberSet") or [""]
        template = str(payload.get("TemplateId", ""))
        purpose = self.purpose_of(template)
        values = [str(v) for v in payload.get("TemplateParamSet") or []]
        names = TEMPLATES[purpose].params if purpose else ()
        params = dict(zip(names, values, strict=False)) if len(values) == len(names) else {"": ""}
        if len(phones) > 200:
            return 200, _tencent_error("LimitExceeded.PhoneNumberCountLimit")
        codes = {
            "template": "FailedOperation.TemplateIncorrectOrUnapproved",
            "sign": "FailedOperation.SignatureIncorrectOrUnapproved",
            "params": "InvalidParameterValue.TemplateParameterFormatError",
            "phone": "InvalidParameterValue.IncorrectPhoneNumber",
        }
        statuses = []
        for phone in phones:  # one status a number, as Tencent Cloud answers
            error = self._accept(str(phone), template, params, str(payload.get("SignName", "")))
            statuses.append(
                {
                    "SerialNo": secrets.token_hex(12),
                    "PhoneNumber": phone,
                    "Fee": 1,
                    "SessionContext": "",
                    "Code": "Ok" if error is None else codes.get(error, error),
                    "Message": "send success" if error is None else "refused by the stand-in",
                    "IsoCode": "CN",
                }
            )
        return 200, {"Response": {"SendStatusSet": statuses, "RequestId": _id()}}


def _id() -> str:
    return secrets.token_hex(16).upper()


def _tencent_error(code: str) -> dict[str, Any]:
    return {"Response": {"Error": {"Code": code, "Message": "refused by the stand-in"}, "RequestId": _id()}}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def aliyun_signature_problem(
    sms: SmsStandIn, method: str, target: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, Any]] | None:
    """What Alibaba Cloud answers a request whose V3 signature (ACS3-HMAC-SHA256) is wrong, or None."""

    def refuse(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
        return status, {"Code": code, "Message": message, "RequestId": _id()}

    auth = headers.get("authorization", "")
    match = re.fullmatch(
        r"ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)", auth
    )
    if not match:
        return refuse(400, "MissingAuthorization", "no ACS3-HMAC-SHA256 authorization")
    key_id, signed, signature = match.groups()
    if key_id != sms.key_id:
        return refuse(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    names = signed.split(";")
    required = {
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    }
    if not required <= set(names) or names != sorted(names):
        return refuse(400, "IncompleteSignature", "required headers are not signed")
    if headers.get("x-acs-content-sha256") != _sha256(body):
        return refuse(400, "ContentSHA256NotMatched", "the body does not match x-acs-content-sha256")
    try:
        date = datetime.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return refuse(400, "InvalidTimeStamp.Format", "x-acs-date is not ISO 8601 UTC")
    if abs(datetime.now(UTC) - date) > FRESH:
        return refuse(400, "InvalidTimeStamp.Expired", "x-acs-date is not fresh")
    parts = urlsplit(target)
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    canonical_query = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in query)
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in names)
    canonical = "\n".join(
        [method, parts.path or "/", canonical_query, canonical_headers, signed, _sha256(body)]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + _sha256(canonical.encode())
    expected = hmac.new(sms.secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return refuse(400, "SignatureDoesNotMatch", "Specified signature does not match our calculation.")
    nonce = headers.get("x-acs-signature-nonce", "")
    if nonce in sms._nonces:
        return refuse(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    sms._nonces.add(nonce)
    return None


def tencent_signature_problem(
    sms: SmsStandIn, method: str, target: str, headers: dict[str, str], body: bytes
) -> str | None:
    """The error code Tencent Cloud answers a request whose TC3-HMAC-SHA256 signature is wrong, or None."""
    auth = headers.get("authorization", "")
    match = re.fullmatch(
        r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
        r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})",
        auth,
    )
    if not match:
        return "AuthFailure.InvalidAuthorization"
    secret_id, date, service, signed, signature = match.groups()
    if secret_id != sms.key_id:
        return "AuthFailure.SecretIdNotFound"
    try:
        stamp = int(headers.get("x-tc-timestamp", ""))
    except ValueError:
        return "AuthFailure.InvalidAuthorization"
    moment = datetime.fromtimestamp(stamp, UTC)
    if abs(datetime.now(UTC) - moment) > FRESH:
        return "AuthFailure.SignatureExpire"
    names = signed.split(";")
    if service != "sms" or date != moment.strftime("%Y-%m-%d") or not {"content-type", "host"} <= set(names):
        return "AuthFailure.InvalidAuthorization"
    parts = urlsplit(target)
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in names)
    canonical = "\n".join([method, parts.path or "/", parts.query, canonical_headers, signed, _sha256(body)])
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{stamp}\n{scope}\n{_sha256(canonical.encode())}"
    key = ("TC3" + sms.secret).encode()
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "AuthFailure.SignatureFailure"
    return None


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0: one request per connection, so no client keeps a socket to a stopped stand-in."""

    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, answer = self.server.standin.handle("POST", self.path, headers, body)
        data = json.dumps(answer, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test's output is not the place for request lines."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, standin: SmsStandIn) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.standin = standin


@contextmanager
def serve_sms(provider: str) -> Iterator[SmsStandIn]:
    """A stand-in of ``provider`` ("aliyun" or "tencent") serving on a free local port."""
    standin = SmsStandIn(provider=provider)
    server = _Server(standin)
    standin.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def aliyun_sms() -> Iterator[SmsStandIn]:
    """Alibaba Cloud SMS, played locally for one test."""
    with serve_sms("aliyun") as standin:
        yield standin


@pytest.fixture
def tencent_sms() -> Iterator[SmsStandIn]:
    """Tencent Cloud SMS, played locally for one test."""
    with serve_sms("tencent") as standin:
        yield standin


@pytest.fixture(params=["aliyun", "tencent"])
def sms_standin(request: pytest.FixtureRequest) -> Iterator[SmsStandIn]:
    """Each provider in turn, played locally."""
    with serve_sms(request.param) as standin:
        yield standin

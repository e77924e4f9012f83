"""The stand-ins refuse what the providers refuse: a tampered body, a replayed nonce, a stale date,
an unknown key; so a test that passes through them proves carloop signs as the providers require."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from stand_ins.sms import SmsStandIn

from carloop.settings import Settings
from carloop.sms.gateways import ProviderRefused
from carloop.sms.providers import build_gateway


@pytest.fixture
def captured(sms_standin: SmsStandIn, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every request the SDK sends (method, path, headers, body), captured on its way to the stand-in."""
    seen: list[dict[str, Any]] = []
    original = sms_standin.handle

    def spy(method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        seen.append({"method": method, "target": target, "headers": dict(headers), "body": body})
        return original(method, target, headers, body)

    monkeypatch.setattr(sms_standin, "handle", spy)
    return seen


def _send(sms: SmsStandIn) -> str:
    settings = Settings(environment="test", database_url="sqlite://", **sms.settings())
    gateway = build_gateway(settings)
    assert gateway is not None
    return gateway.send(
        phone="+8613800138000",
        template_code=sms.templates["login_code"],
        purpose="login_code",
        params={"code": "424242", "minutes": "5"},
    )


def _replay(sms: SmsStandIn, request: dict[str, Any], *, body: bytes | None = None, **headers: str) -> Any:
    sent = {k: v for k, v in request["headers"].items() if k not in ("content-length", "connection")}
    sent |= headers
    with httpx.Client() as client:
        answer = client.post(
            sms.url + request["target"], headers=sent, content=request["body"] if body is None else body
        )
    return answer.json()


def _error(answer: Any) -> str:
    return str(answer.get("Code") or answer["Response"].get("Error", {}).get("Code"))


def test_a_well_signed_request_is_taken(sms_standin: SmsStandIn, captured: list[dict[str, Any]]) -> None:
    assert _send(sms_standin)
    assert [m.params["code"] for m in sms_standin.received] == ["424242"]
    assert b"424242" not in captured[0]["target"].encode()  # the variables never travel in the URL


def test_a_tampered_body_is_refused(sms_standin: SmsStandIn, captured: list[dict[str, Any]]) -> None:
    _send(sms_standin)
    tampered = captured[0]["body"].replace(b"424242", b"999999")
    headers: dict[str, str] = {}
    if (
        sms_standin.provider == "aliyun"
    ):  # a fresh nonce, and the body hash header made to match: still refused
        import hashlib

        headers = {
            "x-acs-signature-nonce": "another-nonce",
            "x-acs-content-sha256": hashlib.sha256(tampered).hexdigest(),
        }
    answer = _replay(sms_standin, captured[0], body=tampered, **headers)
    expected = "SignatureDoesNotMatch" if sms_standin.provider == "aliyun" else "AuthFailure.SignatureFailure"
    assert _error(answer) == expected
    assert [m.params["code"] for m in sms_standin.received] == ["424242"]


def test_a_stale_or_replayed_request_is_refused(
    sms_standin: SmsStandIn, captured: list[dict[str, Any]]
) -> None:
    _send(sms_standin)
    if sms_standin.provider == "aliyun":
        assert _error(_replay(sms_standin, captured[0])) == "SignatureNonceUsed"
        stale = _replay(sms_standin, captured[0], **{"x-acs-date": "2020-01-01T00:00:00Z"})
        assert _error(stale) == "InvalidTimeStamp.Expired"
    else:
        stale = _replay(sms_standin, captured[0], **{"x-tc-timestamp": "1577836800"})
        assert _error(stale) == "AuthFailure.SignatureExpire"
    assert len(sms_standin.received) == 1


def test_an_unknown_key_is_refused(sms_standin: SmsStandIn) -> None:
    settings = Settings(environment="test", database_url="sqlite://", **sms_standin.settings())
    gateway = build_gateway(settings)
    assert gateway is not None
    sms_standin.key_id = "someone-else"
    with pytest.raises(ProviderRefused, match=r"InvalidAccessKeyId|SecretIdNotFound"):
        gateway.send(
            phone="+8613800138000",
            template_code=sms_standin.templates["login_code"],
            purpose="login_code",
            params={"code": "424242", "minutes": "5"},
        )
    assert sms_standin.received == []


def test_the_environment_form_of_the_settings_configures_carloop(
    sms_standin: SmsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sms_standin.env().items():
        monkeypatch.setenv(name, value)
    settings = Settings(environment="test", database_url="sqlite://")
    assert settings.sms_templates == sms_standin.templates and json.loads(
        sms_standin.env()["CARLOOP_SMS_TEMPLATES"]
    )

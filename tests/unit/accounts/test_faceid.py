"""The Tencent Cloud FaceID adapter against a local stand-in of the API that checks TC3 signatures.

The adapter is the maintained SDK pointed at the stand-in through its endpoint; what reaches the stand-in
is what would reach Tencent Cloud, signed the same way.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
from stand_ins.tencent_cloud import TencentCloud, tc3_signature

from carloop.accounts.faceid import TencentFaceIdVerifier
from carloop.accounts.verifiers import build_verifier
from carloop.errors import ErrorCode, PolicyViolation, Unavailable
from carloop.ordering.editions import id_number_with_check
from carloop.settings import Settings

SECRET_ID = "AKIDtestcarloop0123456789"
SECRET_KEY = secrets.token_urlsafe(32)  # generated per run, never a real key
ZHANG = id_number_with_check("11010519800101123")
LI = id_number_with_check("31010419900202456")


@pytest.fixture
def cloud() -> Iterator[TencentCloud]:
    stand_in = TencentCloud(SECRET_ID, SECRET_KEY, {ZHANG: "张三"}).start()
    yield stand_in
    stand_in.stop()


def _verifier(
    cloud: TencentCloud, secret_key: str = SECRET_KEY, secret_id: str = SECRET_ID
) -> TencentFaceIdVerifier:
    return TencentFaceIdVerifier(
        secret_id=secret_id, secret_key=secret_key, region="ap-guangzhou", endpoint=cloud.endpoint, timeout=5
    )


def test_a_matching_name_and_number_are_verified(cloud: TencentCloud) -> None:
    verified = _verifier(cloud).verify(" 张三 ", ZHANG.lower())
    assert (verified.name, verified.id_number) == ("张三", ZHANG)
    assert cloud.calls == [("IdCardVerification", ZHANG)] and cloud.refused == []


def test_settings_build_the_adapter(cloud: TencentCloud) -> None:
    settings = Settings(
        environment="test",
        realname_verifier="tencent",
        realname_tencent_secret_id=SECRET_ID,
        realname_tencent_secret_key=SECRET_KEY,
        realname_tencent_endpoint=cloud.endpoint,
    )
    verifier = build_verifier(settings)
    assert isinstance(verifier, TencentFaceIdVerifier)
    assert verifier.verify("张三", ZHANG).id_number == ZHANG


@pytest.mark.parametrize(
    ("name", "number", "field", "reason"),
    [("李四", ZHANG, "real_name", "mismatch"), ("李四", LI, "id_number", "not-found")],
)
def test_a_mismatch_or_an_unknown_number_is_refused(
    cloud: TencentCloud, name: str, number: str, field: str, reason: str
) -> None:
    with pytest.raises(PolicyViolation) as refused:
        _verifier(cloud).verify(name, number)
    assert refused.value.code == ErrorCode.REALNAME_REFUSED
    assert refused.value.data == {"field": field, "reason": reason}
    assert cloud.calls == [("IdCardVerification", number)]


def test_a_malformed_number_or_an_empty_name_is_refused_without_a_paid_call(cloud: TencentCloud) -> None:
    with pytest.raises(PolicyViolation) as bad_number:
        _verifier(cloud).verify("张三", "110105198001011230")
    assert bad_number.value.code == ErrorCode.REALNAME_REFUSED
    with pytest.raises(PolicyViolation) as no_name:
        _verifier(cloud).verify("  ", ZHANG)
    assert no_name.value.code == ErrorCode.REALNAME_REQUIRED
    assert cloud.calls == []


@pytest.mark.parametrize(
    ("secret_id", "secret_key", "code"),
    [
        (SECRET_ID, "a-wrong-secret-key", "AuthFailure.SignatureFailure"),
        ("AKIDsomebodyelse", SECRET_KEY, "AuthFailure.SecretIdNotFound"),
    ],
    ids=["wrong-key", "unknown-secret-id"],  # stable ids: xdist workers must collect the same names
)
def test_a_request_signed_with_a_wrong_key_is_refused_by_the_api_and_is_a_503(
    cloud: TencentCloud, secret_id: str, secret_key: str, code: str
) -> None:
    with pytest.raises(Unavailable) as down:
        _verifier(cloud, secret_key=secret_key, secret_id=secret_id).verify("张三", ZHANG)
    assert down.value.code == ErrorCode.REALNAME_UNAVAILABLE
    assert cloud.refused == [code] and cloud.calls == []


def _signed_request(body: bytes, host: str, timestamp: int) -> dict[str, str]:
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    headers = {"content-type": "application/json", "host": host}
    signature = tc3_signature(
        SECRET_KEY,
        method="POST",
        uri="/",
        query="",
        headers=headers,
        signed=["content-type", "host"],
        payload=body,
        timestamp=timestamp,
        service="faceid",
    )
    return {
        "Content-Type": "application/json",
        "X-TC-Action": "IdCardVerification",
        "X-TC-Version": "2018-03-01",
        "X-TC-Region": "ap-guangzhou",
        "X-TC-Timestamp": str(timestamp),
        "Authorization": f"TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/faceid/tc3_request,"
        f" SignedHeaders=content-type;host, Signature={signature}",
    }


def test_the_stand_in_refuses_a_forged_body_an_old_timestamp_and_accepts_its_own_signature(
    cloud: TencentCloud,
) -> None:
    """The stand-in's check can fail: a signature over one body does not carry another."""
    host = cloud.endpoint.removeprefix("http://")
    signed = json.dumps({"IdCard": ZHANG, "Name": "张三"}).encode()
    forged = json.dumps({"IdCard": LI, "Name": "张三"}).encode()
    now = int(time.time())
    with httpx.Client(base_url=cloud.endpoint) as http:
        fine = http.post("/", content=signed, headers=_signed_request(signed, host, now)).json()
        swapped = http.post("/", content=forged, headers=_signed_request(signed, host, now)).json()
        old = http.post("/", content=signed, headers=_signed_request(signed, host, now - 3600)).json()
        unsigned = http.post("/", content=signed, headers={"Content-Type": "application/json"}).json()
    assert fine["Response"]["Result"] == "0"
    assert swapped["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert old["Response"]["Error"]["Code"] == "AuthFailure.SignatureExpire"
    assert unsigned["Response"]["Error"]["Code"] == "AuthFailure.InvalidAuthorization"


def test_the_identity_database_down_is_a_503_not_a_refusal(cloud: TencentCloud) -> None:
    cloud.down()
    with pytest.raises(Unavailable) as down:
        _verifier(cloud).verify("张三", ZHANG)
    assert down.value.code == ErrorCode.REALNAME_UNAVAILABLE and down.value.retry_after > 0


def test_the_api_off_the_network_is_a_503_and_nothing_logs_the_name_or_number(
    cloud: TencentCloud, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = _verifier(cloud)
    cloud.stop()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Unavailable):
        verifier.verify("张三", ZHANG)
    assert any("ClientNetworkError" in r.getMessage() for r in caplog.records)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert ZHANG not in logged and "张三" not in logged


def test_nothing_logs_the_name_or_number_on_a_refusal_even_at_debug(
    cloud: TencentCloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PolicyViolation):
        _verifier(cloud).verify("李四", ZHANG)
    _verifier(cloud).verify("张三", ZHANG)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "-1" in logged  # the result code is logged, nothing else
    assert ZHANG not in logged and "张三" not in logged and "李四" not in logged

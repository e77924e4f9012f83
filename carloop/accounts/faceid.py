"""Real-name verification through Tencent Cloud FaceID ``IdCardVerification`` (name + identity number).

The maintained SDK (``tencentcloud-sdk-python-faceid``) signs each call with TC3-HMAC-SHA256 using the
API key from Settings. FaceID's ``Result`` is mapped onto the domain errors: ``"0"`` vouches for the
pair; a mismatch, an unknown number or a malformed name/number is a ``realname-refused`` problem; an
outage of the identity database, a daily quota, a refused key or a network failure is an
``Unavailable`` (503, retry later), never a 500. Neither the name nor the number is ever logged: only
FaceID's result or error code and its request id.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.faceid.v20180301 import faceid_client, models

from carloop.accounts import id_numbers
from carloop.accounts.realname import Verified
from carloop.errors import ErrorCode, PolicyViolation, Unavailable
from carloop.settings import Settings

log = logging.getLogger("carloop.realname")

# The SDK's debug lines print each request with its body (a name and an identity number): never let them
# reach a handler, whatever level the process's root logger runs at.
_SDK_LOGGER = "tencentcloud_sdk_common"

MISMATCH = "The name does not match this identity number."
NOT_FOUND = "No identity record was found for this number; check it against your identity card."
BAD_NUMBER = "The real-name check did not confirm this identity number."
BAD_NAME = "Enter your full name exactly as it is on your identity card."
DOWN = "The real-name check is unavailable right now; nothing was changed. Please try again in a minute."


def _refusal(result: str) -> PolicyViolation | None:
    """The refusal a FaceID result code stands for; None for "0" and for codes that mean "not now"."""
    refused = ErrorCode.REALNAME_REFUSED
    if result == "-1":
        return PolicyViolation(MISMATCH, code=refused, field="real_name", reason="mismatch")
    if result == "-5":
        return PolicyViolation(NOT_FOUND, code=refused, field="id_number", reason="not-found")
    if result == "-2":
        return PolicyViolation(BAD_NUMBER, code=refused, field="id_number", reason="invalid-number")
    if result == "-3":
        return PolicyViolation(BAD_NAME, code=refused, field="real_name", reason="invalid-name")
    return None


class TencentFaceIdVerifier:
    """``RealNameVerifier`` on Tencent Cloud FaceID's ID-card check (one signed HTTPS call per check)."""

    def __init__(
        self, *, secret_id: str, secret_key: str, region: str, endpoint: str, timeout: int = 10
    ) -> None:
        parts = urlsplit(endpoint if "//" in endpoint else f"https://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not a FaceID endpoint: {endpoint!r}")
        self.scheme, self.host = parts.scheme, parts.netloc
        self.region = region
        self.timeout = timeout
        self._credential = Credential(secret_id, secret_key)
        logging.getLogger(_SDK_LOGGER).setLevel(logging.WARNING)

    @classmethod
    def from_settings(cls, settings: Settings) -> TencentFaceIdVerifier:
        """The adapter for ``CARLOOP_REALNAME_TENCENT_*``."""
        return cls(
            secret_id=settings.realname_tencent_secret_id,
            secret_key=settings.realname_tencent_secret_key.get_secret_value(),
            region=settings.realname_tencent_region,
            endpoint=settings.realname_tencent_endpoint,
            timeout=settings.realname_tencent_timeout,
        )

    def verify(self, name: str, id_number: str) -> Verified:
        """The verified pair, a ``realname-refused`` PolicyViolation, or ``Unavailable``."""
        name = name.strip()
        number = id_number.strip().upper()
        if not name:
            raise PolicyViolation(BAD_NAME, code=ErrorCode.REALNAME_REQUIRED, field="real_name")
        if not id_numbers.valid_id_number(number):  # FaceID would answer -2 (and it is not billed)
            raise PolicyViolation(BAD_NUMBER, code=ErrorCode.REALNAME_REFUSED, field="id_number")
        result, request_id = self._ask(name, number)
        if result == "0":
            return Verified(name=name, id_number=number)
        refused = _refusal(result)
        log.info("FaceID IdCardVerification answered %s (request %s)", result, request_id)
        if refused is not None:
            raise refused
        raise Unavailable(DOWN, code=ErrorCode.REALNAME_UNAVAILABLE, retry_after=60)

    def _ask(self, name: str, number: str) -> tuple[str, str]:
        request = models.IdCardVerificationRequest()
        request.IdCard = number
        request.Name = name
        client = self._client()
        try:
            response: Any = client.IdCardVerification(request)
        except TencentCloudSDKException as err:
            # Only the code and the request id: a message may quote the request.
            log.warning(
                "FaceID IdCardVerification failed: %s (request %s)", err.get_code(), err.get_request_id()
            )
            raise Unavailable(DOWN, code=ErrorCode.REALNAME_UNAVAILABLE) from None
        finally:
            client.request.conn._session.close()  # the SDK keeps a requests.Session per client; no leak
        return str(response.Result or ""), str(response.RequestId or "")

    def _client(self) -> faceid_client.FaceidClient:
        http = HttpProfile(
            protocol=self.scheme, endpoint=self.host, reqMethod="POST", reqTimeout=self.timeout
        )
        # No region breaker: it would fail over to another public endpoint than the configured one.
        profile = ClientProfile(httpProfile=http, signMethod="TC3-HMAC-SHA256", disable_region_breaker=True)
        return faceid_client.FaceidClient(self._credential, self.region, profile)

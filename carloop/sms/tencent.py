"""Tencent Cloud SMS (2021-01-11) through its maintained SDK, signed TC3-HMAC-SHA256."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from carloop.settings import Settings
from carloop.sms.gateways import ProviderRefused
from carloop.sms.rules import e164, ordered_params

PUBLIC_ENDPOINT = "sms.tencentcloudapi.com"
TIMEOUT_SECONDS = 10
SDK_LOGGER = "tencentcloud_sdk_common"


class _NoRequestBodies(logging.Filter):
    """The SDK logs whole requests and answers (a sign-in code, a phone number) at debug level: those
    lines go; its warnings and errors stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_sdk_log = logging.getLogger(SDK_LOGGER)
if not any(isinstance(f, _NoRequestBodies) for f in _sdk_log.filters):
    _sdk_log.addFilter(_NoRequestBodies())


class TencentGateway:
    """Sends through ``SendSms`` with the configured SmsSdkAppId and sign name."""

    name = "tencent"
    batch_size = 200  # SendSms takes up to 200 numbers a request

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._secret_id = settings.sms_access_key_id
        self._secret_key = settings.sms_access_key_secret.get_secret_value()
        self._app_id = settings.sms_app_id
        self._sign_name = settings.sms_sign_name
        self._region = settings.sms_region or "ap-guangzhou"
        self._sdk = self._client()

    def _client(self) -> sms_client.SmsClient:
        http = HttpProfile(reqTimeout=TIMEOUT_SECONDS)
        configured = self._settings.sms_endpoint
        if configured:
            parts = urlsplit(configured if "://" in configured else "https://" + configured)
            http.endpoint = parts.netloc
            http.scheme = parts.scheme
        else:
            http.endpoint = PUBLIC_ENDPOINT
        cred = credential.Credential(self._secret_id, self._secret_key)
        return sms_client.SmsClient(cred, self._region, ClientProfile(httpProfile=http))

    def send(self, *, phone: str, template_code: str, purpose: str, params: Mapping[str, str]) -> str:
        """``SendSms`` for one number; the provider's ``SerialNo``."""
        answer = self.send_batch(phones=[phone], template_code=template_code, purpose=purpose, params=params)
        result = answer[phone]
        if isinstance(result, ProviderRefused):
            raise result
        return result

    def send_batch(
        self, *, phones: Sequence[str], template_code: str, purpose: str, params: Mapping[str, str]
    ) -> dict[str, str | ProviderRefused]:
        """``SendSms`` for up to 200 numbers: per number its ``SerialNo`` or the code it was refused with."""
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [e164(phone) for phone in phones]
        request.SmsSdkAppId = self._app_id
        request.SignName = self._sign_name
        request.TemplateId = template_code
        request.TemplateParamSet = ordered_params(purpose, params)
        try:
            answer = self._sdk.SendSms(request)
        except TencentCloudSDKException as exc:
            code = str(exc.code or "error")
            if code in ("ClientNetworkError", "ServerNetworkError"):
                raise ProviderRefused(self.name, "unreachable", code) from None
            raise ProviderRefused(self.name, code) from None
        statuses = {str(s.PhoneNumber): s for s in answer.SendStatusSet or []}
        results: dict[str, str | ProviderRefused] = {}
        for phone in phones:
            status = statuses.get(e164(phone))
            if status is None:
                results[phone] = ProviderRefused(self.name, "empty-answer")
            elif status.Code != "Ok":
                results[phone] = ProviderRefused(self.name, str(status.Code or "error"))
            else:
                results[phone] = str(status.SerialNo or answer.RequestId or "")
        return results

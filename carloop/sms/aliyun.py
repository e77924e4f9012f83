"""Alibaba Cloud SMS (Dysmsapi 2017-05-25) through its maintained SDK, signed ACS3-HMAC-SHA256."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import utils_models as open_api
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from darabonba.runtime import RuntimeOptions

from carloop.settings import Settings
from carloop.sms.gateways import ProviderRefused
from carloop.sms.rules import national_number

PUBLIC_ENDPOINT = "dysmsapi.aliyuncs.com"
TIMEOUT_MS = 10_000


class AliyunGateway:
    """Sends through ``SendSms``. The variables travel in the signed form body, not the URL, so a
    sign-in code never shows up in an access log or a proxy's request line."""

    name = "aliyun"
    batch_size = 100  # SendSms takes up to 1000 comma-separated numbers; fewer keep a refusal small

    def __init__(self, settings: Settings) -> None:
        endpoint, protocol = _endpoint(settings.sms_endpoint)
        config = open_api.Config(
            access_key_id=settings.sms_access_key_id,
            access_key_secret=settings.sms_access_key_secret.get_secret_value(),
            endpoint=endpoint,
            protocol=protocol,
            region_id=settings.sms_region or "cn-hangzhou",
            read_timeout=TIMEOUT_MS,
            connect_timeout=TIMEOUT_MS,
        )
        self._client = Client(config)
        self._sign_name = settings.sms_sign_name

    def send(self, *, phone: str, template_code: str, purpose: str, params: Mapping[str, str]) -> str:
        """``SendSms`` for one number; the provider's ``BizId``."""
        return self._send([phone], template_code, params)

    def send_batch(
        self, *, phones: Sequence[str], template_code: str, purpose: str, params: Mapping[str, str]
    ) -> dict[str, str | ProviderRefused]:
        """``SendSms`` for many numbers (comma-separated): one ``BizId`` for all, or one refusal."""
        biz_id = self._send(phones, template_code, params)
        return dict.fromkeys(phones, biz_id)

    def _send(self, phones: Sequence[str], template_code: str, params: Mapping[str, str]) -> str:
        form = {
            "PhoneNumbers": ",".join(national_number(phone) for phone in phones),
            "SignName": self._sign_name,
            "TemplateCode": template_code,
            "TemplateParam": json.dumps(dict(params), ensure_ascii=False, separators=(",", ":")),
        }
        request = open_api.OpenApiRequest(body=form)
        call = open_api.Params(
            action="SendSms",
            version="2017-05-25",
            protocol="HTTPS",
            pathname="/",
            method="POST",
            auth_type="AK",
            style="RPC",
            req_body_type="formData",
            body_type="json",
        )
        try:
            answer = self._client.call_api(call, request, RuntimeOptions(autoretry=False))
        except AlibabaCloudException as exc:
            raise ProviderRefused(self.name, str(exc.code or "error"), f"HTTP {exc.status_code}") from None
        except Exception as exc:  # network: refused connection, timeout, unreadable answer
            raise ProviderRefused(self.name, "unreachable", type(exc).__name__) from None
        body = answer.get("body") or {}
        if body.get("Code") != "OK":
            raise ProviderRefused(self.name, str(body.get("Code") or "error"))
        return str(body.get("BizId") or body.get("RequestId") or "")


def _endpoint(configured: str) -> tuple[str, str]:
    """(host[:port], protocol) of ``CARLOOP_SMS_ENDPOINT`` (a URL or a bare host), or the public one."""
    if not configured:
        return PUBLIC_ENDPOINT, "https"
    if "://" not in configured:
        return configured, "https"
    parts = urlsplit(configured)
    return parts.netloc, parts.scheme

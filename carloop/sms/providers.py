"""The configured SMS provider's gateway."""

from __future__ import annotations

from carloop.settings import Settings
from carloop.sms.aliyun import AliyunGateway
from carloop.sms.gateways import SmsGateway
from carloop.sms.tencent import TencentGateway


def build_gateway(settings: Settings) -> SmsGateway | None:
    """The gateway the settings name (``CARLOOP_SMS_PROVIDER``), or None when there is none."""
    if settings.sms_provider == "aliyun":
        return AliyunGateway(settings)
    if settings.sms_provider == "tencent":
        return TencentGateway(settings)
    return None

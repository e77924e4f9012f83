"""Sign-in codes by SMS: the accounts ``CodeSender`` for a configured provider."""

from __future__ import annotations

from sqlalchemy.orm import Session

from carloop.settings import Settings
from carloop.sms import rules, service
from carloop.sms.gateways import SmsGateway


class SmsCodeSender:
    """Sends the ``login_code`` template (``registration_code`` for a campaign's pre-registration);
    refusals surface as ``MessageNotSent`` / ``RateLimited``."""

    def __init__(self, settings: Settings, gateway: SmsGateway) -> None:
        self.settings = settings
        self.gateway = gateway

    def send(
        self,
        *,
        session: Session,
        phone: str,
        code: str,
        ttl_seconds: int,
        locale: str = "zh_CN",
        purpose: str = rules.LOGIN_CODE,
    ) -> None:
        """One code to one phone, now (the buyer is waiting for it)."""
        minutes = str(max(1, ttl_seconds // 60))
        service.send(
            session=session,
            settings=self.settings,
            gateway=self.gateway,
            phone=phone,
            purpose=purpose,
            params={"code": code, "minutes": minutes},
            locale=locale,
        )

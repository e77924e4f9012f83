"""Sending a notice on an outside channel: the outbox handler for ``notice.due``.

Each (notice, channel) is one outbox event handled in its own transaction. A provider that is down
(SMS outage, SMTP server unreachable) raises ``RetryLater``: the event waits and is tried again,
never dropped. A retry after success sends nothing: the SMS goes under the key
``notice:<id>:sms`` (``sms_message.key``) and the delivery row says ``sent``.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from carloop.accounts.models import Customer
from carloop.clock import utcnow
from carloop.errors import MessageNotSent, RateLimited
from carloop.notices import rules
from carloop.notices.mail import SmtpMailer
from carloop.notices.models import Notice, NoticeDelivery
from carloop.notices.service import NoticeDue, preferences
from carloop.outbox.service import Handler, RetryLater
from carloop.settings import Settings
from carloop.sms import service as sms
from carloop.sms.gateways import SmsGateway
from carloop.sms.providers import build_gateway
from carloop.sms.rules import masked

log = logging.getLogger("carloop.notices")


class Deliverer:
    """Sends due notices through the configured SMS gateway and SMTP server."""

    def __init__(self, settings: Settings, gateway: SmsGateway | None = None) -> None:
        self.settings = settings
        self.gateway = gateway if gateway is not None else build_gateway(settings)
        self.mailer = SmtpMailer(settings) if settings.smtp_host else None

    def handle(self, session: Session, payload: Mapping[str, Any]) -> None:
        """Send one notice on one channel (the ``notice.due`` handler)."""
        notice = session.get(Notice, int(payload["notice_id"]))
        row = (
            session.query(NoticeDelivery)
            .filter_by(notice_id=int(payload["notice_id"]), channel=str(payload["channel"]))
            .with_for_update()
            .one_or_none()
        )
        if notice is None or row is None or row.status != "pending":
            return
        row.attempts += 1
        customer = session.get(Customer, notice.customer_id)
        prefs = preferences(session=session, customer_id=notice.customer_id)
        if row.channel == rules.Channel.SMS and customer is not None:
            self._sms(session, notice, row, customer.phone, prefs.locale)
        elif row.channel == rules.Channel.EMAIL and prefs.email:
            self._email(notice, row, prefs.email, prefs.locale)
        else:
            row.status = "skipped"

    def _sms(self, session: Session, notice: Notice, row: NoticeDelivery, phone: str, locale: str) -> None:
        purpose = rules.SMS_TEMPLATE[notice.kind]
        if self.gateway is None:  # the demo without a provider: the inbox has it, the log says so
            log.info(
                "notice %s (%s) for %s: no SMS provider configured", notice.id, notice.kind, masked(phone)
            )
            row.status = "skipped"
            return
        try:
            sms.send(
                session=session,
                settings=self.settings,
                gateway=self.gateway,
                phone=phone,
                purpose=purpose,
                params=notice.sms_params,
                locale=locale,
                key=f"notice:{notice.id}:sms",
            )
        except RateLimited as exc:
            raise RetryLater(f"SMS limit for notice {notice.id}") from exc
        except MessageNotSent as exc:
            if exc.retryable:
                raise RetryLater(f"SMS provider for notice {notice.id}: {exc.message}") from exc
            row.status, row.last_error = "failed", exc.message[:300]
            return
        row.status, row.sent_at = "sent", utcnow()

    def _email(self, notice: Notice, row: NoticeDelivery, address: str, locale: str) -> None:
        if self.mailer is None:
            row.status = "skipped"
            return
        subject = (
            rules.in_language(locale, notice.subject_en, notice.subject_zh)
            or rules.in_language(locale, notice.body_en, notice.body_zh)[:80]
        )
        body = rules.in_language(locale, notice.body_en, notice.body_zh)
        try:
            self.mailer.send(
                to=address, subject=subject, body=body, message_id=f"<notice-{notice.id}@carloop>"
            )
        except (OSError, smtplib.SMTPException) as exc:
            raise RetryLater(f"SMTP for notice {notice.id}: {type(exc).__name__}") from exc
        row.status, row.sent_at = "sent", utcnow()


def handlers(settings: Settings | None, gateway: SmsGateway | None = None) -> dict[str, list[Handler]]:
    """The notices domain's reactions, bound to the settings' providers. Without settings (a caller
    that knows no providers) due notices are deferred, never marked handled unsent."""
    if settings is None:
        return {NoticeDue.name: [_wait_for_providers]}
    return {NoticeDue.name: [Deliverer(settings, gateway).handle]}


def _wait_for_providers(session: Session, payload: Mapping[str, Any]) -> None:
    """The handler of a dispatcher without provider settings: leave the notice for one that has them."""
    raise RetryLater(f"notice {payload.get('notice_id')}: this dispatcher has no provider settings")

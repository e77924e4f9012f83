"""Send one text message: within the per-phone and per-template limits, through the configured
provider, recorded in ``sms_message`` (never with its variables), and idempotent by key.

Log lines name the purpose, a masked number and the provider's answer, never the variables.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.accounts import ratelimit
from carloop.accounts.rules import retry_after, window_start
from carloop.clock import utcnow
from carloop.errors import MessageNotSent, RateLimited
from carloop.settings import Settings
from carloop.sms import rules
from carloop.sms.gateways import ProviderRefused, SmsGateway
from carloop.sms.models import SmsMessage

log = logging.getLogger("carloop.sms")

SENT = "sent"
FAILED = "failed"

UNAVAILABLE = "The text message could not be sent: the SMS service is not answering. Try again in a minute."
LIMITED = "The SMS service will not send more messages to this number for now. Try again later."
BAD_NUMBER = "The SMS service cannot deliver to this number. Check it, or use another mobile number."
MISCONFIGURED = (
    "Text messages cannot be sent: the site's SMS settings are wrong. Please tell the site's staff."
)
TOO_MANY_TO_PHONE = "Too many text messages to this number. Wait a while and try again."
TOO_MANY_OF_KIND = "Too many text messages of this kind are going out right now. Wait a while and try again."


def send(
    *,
    session: Session,
    settings: Settings,
    gateway: SmsGateway,
    phone: str,
    purpose: str,
    params: Mapping[str, str],
    locale: str = "zh_CN",
    key: str | None = None,
    now: datetime | None = None,
    template_limit: int | None = None,
) -> SmsMessage:
    """Send the ``purpose`` template to ``phone``; the recorded message.

    With ``key``, a message already sent under that key is returned as it is (a retry never sends
    twice). A refusal is recorded and raised as ``MessageNotSent`` (its ``retryable`` says whether
    later may work); too many messages raise ``RateLimited``. ``template_limit`` replaces the
    per-template ceiling for a bulk purpose that is throttled by its own schedule (opening notices).
    """
    now = now or utcnow()
    row = session.scalar(select(SmsMessage).where(SmsMessage.key == key)) if key else None
    if row is not None and row.status == SENT:
        return row
    template_code = rules.choose_template(settings.sms_templates, purpose, locale)
    if template_code is None:
        log.error("sms %s: no template configured (CARLOOP_SMS_TEMPLATES)", purpose)
        raise MessageNotSent(MISCONFIGURED, retryable=True)
    _limit(session, settings, phone=phone, purpose=purpose, now=now, of_kind_limit=template_limit)
    if row is None:
        row = SmsMessage(
            key=key, provider=gateway.name, phone=phone, purpose=purpose, attempts=0, created_at=now
        )
        session.add(row)
    row.template_code = template_code
    row.provider = gateway.name
    row.attempts = (row.attempts or 0) + 1
    row.updated_at = now
    try:
        row.provider_message_id = gateway.send(
            phone=phone, template_code=template_code, purpose=purpose, params=params
        )
    except ProviderRefused as refused:
        row.status, row.error_code = FAILED, refused.code[:100]
        session.flush()
        log.warning("sms %s to %s not sent: %s", purpose, rules.masked(phone), refused)
        raise _not_sent(refused.failure) from None
    row.status, row.error_code = SENT, ""
    session.flush()
    log.info("sms %s to %s sent (%s %s)", purpose, rules.masked(phone), gateway.name, row.provider_message_id)
    return row


def _not_sent(failure: rules.Failure) -> MessageNotSent:
    """The buyer-facing error for a provider's refusal."""
    if failure == rules.Failure.NUMBER:
        return MessageNotSent(BAD_NUMBER, retryable=False)
    if failure == rules.Failure.LIMITED:
        return MessageNotSent(LIMITED, retryable=True)
    if failure == rules.Failure.CONFIG:
        return MessageNotSent(MISCONFIGURED, retryable=True)
    return MessageNotSent(UNAVAILABLE, retryable=True)


def _limit(
    session: Session,
    settings: Settings,
    *,
    phone: str,
    purpose: str,
    now: datetime,
    of_kind_limit: int | None = None,
) -> None:
    """Count this message against its phone and its template (database counters every process shares)."""
    window = settings.sms_window_seconds
    to_phone = ratelimit.bump(session=session, key=f"sms:phone:{phone}", window_seconds=window, now=now)
    of_kind = ratelimit.bump(session=session, key=f"sms:template:{purpose}", window_seconds=window, now=now)
    wait = retry_after(now, window_start(now, window), window)
    if to_phone > settings.sms_per_phone_window:
        raise RateLimited(TOO_MANY_TO_PHONE, retry_after=wait)
    if of_kind > (of_kind_limit or settings.sms_per_template_window):
        raise RateLimited(TOO_MANY_OF_KIND, retry_after=wait)


def sent_to(*, session: Session, phone: str) -> list[SmsMessage]:
    """Messages recorded for ``phone``, oldest first."""
    return list(session.scalars(select(SmsMessage).where(SmsMessage.phone == phone).order_by(SmsMessage.id)))

"""Send one text message: within the per-phone and per-template limits, through the configured
provider, recorded in ``sms_message`` (never with its variables), and idempotent by key.

Log lines name the purpose, a masked number and the provider's answer, never the variables.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from carloop.accounts import ratelimit
from carloop.accounts.rules import retry_after, window_start
from carloop.clock import utcnow
from carloop.errors import MessageNotSent, RateLimited
from carloop.settings import Settings
from carloop.sms import rules
from carloop.sms.gateways import BatchSmsGateway, ProviderRefused, SmsGateway
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


@dataclass
class BulkSent:
    """What became of each key of a bulk send."""

    sent: dict[str, int] = field(default_factory=dict)  # key -> its sms_message id
    failed: dict[str, str] = field(default_factory=dict)  # key -> the provider's code: never retried
    later: set[str] = field(default_factory=set)  # provider down, a limit reached: try again later


def send_many(
    *,
    session: Session,
    settings: Settings,
    gateway: SmsGateway,
    purpose: str,
    params: Mapping[str, str],
    recipients: Mapping[str, str],
    locale: str = "zh_CN",
    now: datetime | None = None,
    template_limit: int | None = None,
) -> BulkSent:
    """Send the same ``purpose`` text to many phones (``recipients``: key -> phone) in as few
    provider requests as the gateway allows, each key at most once (a key already sent is not sent
    again), counted against the same limits as ``send``; rows recorded with one statement."""
    now = now or utcnow()
    result = BulkSent()
    for key, message_id, status in session.execute(
        select(SmsMessage.key, SmsMessage.id, SmsMessage.status).where(SmsMessage.key.in_(list(recipients)))
    ):
        if status == SENT and key is not None:
            result.sent[key] = message_id
    todo: dict[str, str] = {}
    seen: set[str] = set()
    for key, phone in recipients.items():
        if key in result.sent:
            continue
        if phone in seen:  # one number once a request: the second waits for the next
            result.later.add(key)
        else:
            todo[key] = phone
            seen.add(phone)
    template_code = rules.choose_template(settings.sms_templates, purpose, locale)
    if template_code is None:
        log.error("sms %s: no template configured (CARLOOP_SMS_TEMPLATES)", purpose)
        result.later.update(todo)
        return result
    todo = _within_limits(session, settings, purpose, todo, now, template_limit, result)
    answers: dict[str, str | ProviderRefused] = {}
    keys = list(todo)
    size = gateway.batch_size if isinstance(gateway, BatchSmsGateway) else 1
    for start in range(0, len(keys), size):
        chunk = {key: todo[key] for key in keys[start : start + size]}
        answers |= _send_chunk(gateway, chunk, template_code, purpose, params)
    _record(session, gateway, purpose, template_code, todo, answers, now, result)
    return result


def _within_limits(
    session: Session,
    settings: Settings,
    purpose: str,
    todo: dict[str, str],
    now: datetime,
    template_limit: int | None,
    result: BulkSent,
) -> dict[str, str]:
    """The keys whose phone and template are within their limits (one counting statement); the others
    are left for later."""
    if not todo:
        return todo
    template_key = f"sms:template:{purpose}"
    counts = ratelimit.bump_many(
        session=session,
        counts={template_key: len(todo), **Counter(f"sms:phone:{phone}" for phone in todo.values())},
        window_seconds=settings.sms_window_seconds,
        now=now,
    )
    if counts[template_key] > (template_limit or settings.sms_per_template_window):
        result.later.update(todo)
        return {}
    allowed = {k: p for k, p in todo.items() if counts[f"sms:phone:{p}"] <= settings.sms_per_phone_window}
    result.later.update(set(todo) - set(allowed))
    return allowed


def _send_chunk(
    gateway: SmsGateway, chunk: dict[str, str], template_code: str, purpose: str, params: Mapping[str, str]
) -> dict[str, str | ProviderRefused]:
    """One provider request for the chunk (key -> phone); per key the message id or the refusal.

    A request refused as a whole for a reason of one number is tried number by number, so one bad
    number does not sink the others."""
    phones = list(chunk.values())
    try:
        if isinstance(gateway, BatchSmsGateway):
            by_phone = gateway.send_batch(
                phones=phones, template_code=template_code, purpose=purpose, params=params
            )
            return {key: by_phone[phone] for key, phone in chunk.items()}
        ((key, phone),) = chunk.items()
        return {key: gateway.send(phone=phone, template_code=template_code, purpose=purpose, params=params)}
    except ProviderRefused as refused:
        if len(chunk) > 1 and refused.failure == rules.Failure.NUMBER:
            answers: dict[str, str | ProviderRefused] = {}
            for key, phone in chunk.items():
                answers |= _send_chunk(gateway, {key: phone}, template_code, purpose, params)
            return answers
        log.warning("sms %s to %s numbers not sent: %s", purpose, len(chunk), refused)
        return dict.fromkeys(chunk, refused)


def _record(
    session: Session,
    gateway: SmsGateway,
    purpose: str,
    template_code: str,
    todo: dict[str, str],
    answers: Mapping[str, str | ProviderRefused],
    now: datetime,
    result: BulkSent,
) -> None:
    """Record the sent and the refused-for-good in ``sms_message`` (one statement each way); keys to
    retry are left unrecorded, as a rolled-back ``send`` leaves them."""
    rows: list[dict[str, Any]] = []
    for key, answer in answers.items():
        if isinstance(answer, ProviderRefused) and answer.failure in rules.RETRYABLE:
            result.later.add(key)
            continue
        refused = isinstance(answer, ProviderRefused)
        rows.append(
            {
                "key": key,
                "provider": gateway.name,
                "phone": todo[key],
                "purpose": purpose,
                "template_code": template_code,
                "status": FAILED if refused else SENT,
                "provider_message_id": "" if isinstance(answer, ProviderRefused) else answer[:100],
                "error_code": answer.code[:100] if isinstance(answer, ProviderRefused) else "",
                "attempts": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    if not rows:
        return
    stale = dict(
        session.execute(
            select(SmsMessage.key, SmsMessage.id).where(SmsMessage.key.in_([r["key"] for r in rows]))
        ).all()
    )
    if stale:  # an earlier refusal of the same key: the row is brought up to date
        session.execute(
            update(SmsMessage),
            [
                {k: v for k, v in row.items() if k not in ("key", "created_at")} | {"id": stale[row["key"]]}
                for row in rows
                if row["key"] in stale
            ],
        )
    fresh = [row for row in rows if row["key"] not in stale]
    ids = dict(stale)
    if fresh:
        returned = session.execute(
            insert(SmsMessage).returning(SmsMessage.key, SmsMessage.id, sort_by_parameter_order=True), fresh
        )
        ids |= {key: message_id for key, message_id in returned if key is not None}
    for row in rows:
        if row["status"] == SENT:
            result.sent[row["key"]] = ids[row["key"]]
        else:
            result.failed[row["key"]] = row["error_code"]
    log.info(
        "sms %s: %s sent, %s refused (%s)",
        purpose,
        len(rows) - len(result.failed),
        len(result.failed),
        gateway.name,
    )


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

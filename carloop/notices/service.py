"""Notice use cases: leave a notice (once per key), read an inbox, keep an owner's preferences.

``notify`` writes the notice, its in-app delivery (done at once) and one outbox event per outside
channel (SMS, e-mail), so each channel is sent, retried and recorded in its own transaction: an
outage of one delays that channel only and never sends another twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carloop.clock import utcnow
from carloop.errors import PolicyViolation
from carloop.notices import rules
from carloop.notices.models import Notice, NoticeDelivery, NoticePreference
from carloop.outbox import service as outbox

BAD_EMAIL = "Enter a valid e-mail address, or leave it empty."
BAD_LOCALE = "Choose Chinese or English."


@dataclass(frozen=True)
class NoticeDue:
    """A notice waits to go out on an outside channel."""

    name: ClassVar[str] = "notice.due"
    notice_id: int
    channel: str


def notify(
    *,
    session: Session,
    customer_id: int,
    kind: str,
    key: str,
    source: str,
    body: tuple[str, str],
    subject: tuple[str, str] = ("", ""),
    order_id: int | None = None,
    order_number: str = "",
    sms_params: dict[str, Any] | None = None,
    link: str = "",
) -> Notice:
    """Leave a notice (``body``, ``subject``: English, Chinese; ``link``: the site's page it is about);
    the same ``key`` returns the first."""
    existing = session.scalar(select(Notice).where(Notice.key == key[:160]))
    if existing is not None:
        return existing
    notice = Notice(
        customer_id=customer_id,
        kind=kind,
        key=key[:160],
        source=source,
        order_id=order_id,
        order_number=order_number,
        subject_en=subject[0][:200],
        subject_zh=subject[1][:200],
        body_en=body[0][:1000],
        body_zh=body[1][:1000],
        sms_params={k: str(v) for k, v in (sms_params or {}).items()},
        link=link[:300],
    )
    session.add(notice)
    session.flush()
    prefs = preferences(session=session, customer_id=customer_id)
    for channel in rules.channels(kind, sms_on=prefs.sms_on, email=prefs.email, email_on=prefs.email_on):
        inapp = channel == rules.Channel.INAPP
        session.add(
            NoticeDelivery(
                notice_id=notice.id,
                channel=channel.value,
                status="sent" if inapp else "pending",
                sent_at=notice.created_at if inapp else None,
            )
        )
        if not inapp:
            outbox.publish(session=session, event=NoticeDue(notice_id=notice.id, channel=channel.value))
    session.flush()
    return notice


def inbox(
    *,
    session: Session,
    customer_id: int,
    source: str | None = None,
    skip_sources: Sequence[str] = (),
    limit: int = 50,
) -> list[Notice]:
    """A recipient's notices (of one source, if given; none of ``skip_sources``), newest first."""
    query = select(Notice).where(Notice.customer_id == customer_id)
    if source is not None:
        query = query.where(Notice.source == source)
    if skip_sources:
        query = query.where(Notice.source.not_in(list(skip_sources)))
    return list(session.scalars(query.order_by(Notice.id.desc()).limit(limit)))


@dataclass(frozen=True, slots=True)
class NoticeView:
    """A notice as a page shows it: in one language, with whether a channel still waits to send it."""

    kind: str
    order_number: str
    subject: str
    body: str
    link: str
    created_at: datetime
    pending: bool


def views(
    *, session: Session, customer_id: int, locale: str, skip_sources: Sequence[str] = (), limit: int = 50
) -> list[NoticeView]:
    """A recipient's notices, newest first, in ``locale`` (the reader's: a buyer's choice, staff's page)."""
    found = inbox(session=session, customer_id=customer_id, skip_sources=skip_sources, limit=limit)
    waiting = set(
        session.scalars(
            select(NoticeDelivery.notice_id).where(
                NoticeDelivery.notice_id.in_([n.id for n in found]), NoticeDelivery.status == "pending"
            )
        )
    )
    return [
        NoticeView(
            kind=n.kind,
            order_number=n.order_number,
            subject=rules.in_language(locale, n.subject_en, n.subject_zh),
            body=rules.in_language(locale, n.body_en, n.body_zh),
            link=n.link,
            created_at=n.created_at,
            pending=n.id in waiting,
        )
        for n in found
    ]


def unread_count(*, session: Session, customer_id: int) -> int:
    """How many of a recipient's notices are unread."""
    query = select(Notice.id).where(Notice.customer_id == customer_id, Notice.read_at.is_(None))
    return len(list(session.scalars(query)))


def mark_read(*, session: Session, customer_id: int, now: datetime | None = None) -> None:
    """Mark every notice of a recipient read."""
    session.execute(
        update(Notice)
        .where(Notice.customer_id == customer_id, Notice.read_at.is_(None))
        .values(read_at=now or utcnow())
    )


def deliveries(*, session: Session, notice_id: int) -> list[NoticeDelivery]:
    """A notice's deliveries, one per channel."""
    query = select(NoticeDelivery).where(NoticeDelivery.notice_id == notice_id).order_by(NoticeDelivery.id)
    return list(session.scalars(query))


def preferences(*, session: Session, customer_id: int) -> NoticePreference:
    """An owner's preferences (the defaults until they saved any: Chinese, SMS on, no e-mail)."""
    found = session.get(NoticePreference, customer_id)
    return found or NoticePreference(
        customer_id=customer_id, locale="zh_CN", email="", email_on=True, sms_on=True
    )


def set_preferences(
    *, session: Session, customer_id: int, locale: str, email: str, email_on: bool, sms_on: bool
) -> NoticePreference:
    """Save an owner's preferences; a malformed address or language is refused by field."""
    email = email.strip()
    if email and not rules.valid_email(email):
        raise PolicyViolation(BAD_EMAIL, field="email")
    if locale not in rules.LOCALES:
        raise PolicyViolation(BAD_LOCALE, field="locale")
    prefs = session.get(NoticePreference, customer_id)
    if prefs is None:
        prefs = NoticePreference(customer_id=customer_id)
        session.add(prefs)
    prefs.locale, prefs.email, prefs.email_on, prefs.sms_on = locale, email, email_on, sms_on
    prefs.updated_at = utcnow()
    session.flush()
    return prefs

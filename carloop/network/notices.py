"""How notices reach a buyer: a small sender protocol, the logging default, and a test seam."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.clock import utcnow
from carloop.network.models import CustomerNotice

log = logging.getLogger("carloop.network")


class NoticeSender(Protocol):
    """Delivers a short message to a buyer's phone (an SMS or push adapter implements this)."""

    def send(self, *, phone: str, subject: str, body: str) -> None:
        """Deliver the message; raise on failure so it is retried later."""
        ...


class LogNoticeSender:
    """Writes notices to the server log (logger ``carloop.network``): the default for the demo."""

    def send(self, *, phone: str, subject: str, body: str) -> None:
        """Log the notice."""
        log.info("notice to %s: %s — %s", phone, subject, body)


@dataclass
class MemoryNoticeSender:
    """Keeps every notice it is asked to send: a test seam."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(self, *, phone: str, subject: str, body: str) -> None:
        """Remember the notice."""
        self.sent.append((phone, subject, body))


def deliver_notices(*, session: Session, sender: NoticeSender, limit: int = 500) -> int:
    """Send pending notices through ``sender``, each claimed by one conditional update; returns how many."""
    pending = list(
        session.scalars(
            select(CustomerNotice)
            .where(CustomerNotice.sent_at.is_(None))
            .order_by(CustomerNotice.id)
            .limit(limit)
        )
    )
    sent = 0
    for notice in pending:
        claimed = session.execute(
            update(CustomerNotice)
            .where(CustomerNotice.id == notice.id, CustomerNotice.sent_at.is_(None))
            .values(sent_at=utcnow())
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        phone = accounts.get_customer(session=session, customer_id=notice.customer_id).phone
        sender.send(phone=phone, subject=notice.subject, body=notice.body)
        sent += 1
    return sent

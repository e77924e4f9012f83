"""How one-time codes reach a phone: a small protocol and the default sender that logs them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.orm import Session

log = logging.getLogger("carloop.accounts")


class CodeSender(Protocol):
    """Delivers a one-time sign-in code to a phone (``carloop.sms.codes.SmsCodeSender`` in production)."""

    def send(
        self,
        *,
        session: Session,
        phone: str,
        code: str,
        ttl_seconds: int,
        locale: str = "zh_CN",
        purpose: str = "login_code",
    ) -> None:
        """Deliver ``code`` to ``phone`` with the text of ``purpose`` (``login_code``, or
        ``registration_code`` for a campaign's pre-registration), recording what it did in ``session``;
        raise a domain error on failure so the caller can tell the user."""
        ...


class LogSender:
    """Writes the code to the server log (logger ``carloop.accounts``): the demo's sender without an
    SMS provider (production refuses to start without one)."""

    def send(
        self,
        *,
        session: Session,
        phone: str,
        code: str,
        ttl_seconds: int,
        locale: str = "zh_CN",
        purpose: str = "login_code",
    ) -> None:
        """Log the code for whoever watches the server output."""
        log.info("%s for %s: %s (valid %d s)", purpose.replace("_", " "), phone, code, ttl_seconds)


@dataclass
class MemorySender:
    """Keeps every code it is asked to send, newest last: a test seam."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    purposes: list[str] = field(default_factory=list)  # the text each code went out with

    def send(
        self,
        *,
        session: Session,
        phone: str,
        code: str,
        ttl_seconds: int,
        locale: str = "zh_CN",
        purpose: str = "login_code",
    ) -> None:
        """Remember the code."""
        self.sent.append((phone, code))
        self.purposes.append(purpose)

    def last_code(self, phone: str) -> str:
        """The newest code sent to ``phone``."""
        return next(code for to, code in reversed(self.sent) if to == phone)

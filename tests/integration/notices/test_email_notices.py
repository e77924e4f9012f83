"""E-mail notices through a real local SMTP server (aiosmtpd): sent in the owner's language once,
deferred (not lost) while the server is down."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.notices import service as notices
from carloop.notices.delivery import Deliverer
from carloop.outbox.service import RetryLater
from carloop.settings import Settings


class Inbox:
    """The SMTP server's mailbox."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _notice(factory: sessionmaker[Session], locale: str) -> int:
    with factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone="13800138000")
        notices.set_preferences(
            session=session,
            customer_id=customer.id,
            locale=locale,
            email="anna@example.com",
            email_on=True,
            sms_on=False,
        )
        notice = notices.notify(
            session=session,
            customer_id=customer.id,
            kind="built",
            key=f"test:built:{locale}",
            source="production",
            subject=("Your car was built", "您的车辆已下线"),
            body=("Your car was built. VIN LT1.", "您的车辆已下线，车架号 LT1。"),
        )
        return notice.id


@pytest.mark.parametrize(
    ("locale", "subject", "body"),
    [("zh_CN", "您的车辆已下线", "车架号"), ("en", "Your car was built", "VIN")],
)
def test_an_owner_with_an_address_gets_the_notice_by_email_in_their_language(
    session_factory: sessionmaker[Session],
    settings: Settings,
    smtp: tuple[Inbox, int],
    locale: str,
    subject: str,
    body: str,
) -> None:
    inbox, port = smtp
    notice_id = _notice(session_factory, locale)
    mailer = Settings(**{**settings.model_dump(), "smtp_host": "127.0.0.1", "smtp_port": port})
    with session_factory.begin() as session:
        channels = {d.channel for d in notices.deliveries(session=session, notice_id=notice_id)}
        assert channels == {"inapp", "email"}  # "built" is no SMS kind; SMS is off anyway
        Deliverer(mailer).handle(session, {"notice_id": notice_id, "channel": "email"})
        Deliverer(mailer).handle(session, {"notice_id": notice_id, "channel": "email"})  # a retry: nothing
    [(to, message)] = inbox.messages
    assert to == ["anna@example.com"] and str(make_header(decode_header(message["Subject"]))) == subject
    assert body in message.get_payload(decode=True).decode()


def test_an_unreachable_smtp_server_defers_the_email(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    notice_id = _notice(session_factory, "en")
    down = Settings(**{**settings.model_dump(), "smtp_host": "127.0.0.1", "smtp_port": _free_port()})
    with pytest.raises(RetryLater), session_factory.begin() as session:
        Deliverer(down).handle(session, {"notice_id": notice_id, "channel": "email"})
    with session_factory() as session:
        [email] = [
            d for d in notices.deliveries(session=session, notice_id=notice_id) if d.channel == "email"
        ]
        assert email.status == "pending"

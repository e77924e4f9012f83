"""E-mail through SMTP (the standard library's client): one message per call, connection closed after."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from carloop.settings import Settings

TIMEOUT_SECONDS = 15


class SmtpMailer:
    """Sends plain-text mail through the configured SMTP server (STARTTLS and login if configured)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, *, to: str, subject: str, body: str, message_id: str) -> None:
        """Send one message; ``OSError`` / ``smtplib.SMTPException`` when the server is down or refuses."""
        s = self.settings
        message = EmailMessage()
        message["From"] = s.smtp_from
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = message_id
        message.set_content(body)
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
            smtp.send_message(message)

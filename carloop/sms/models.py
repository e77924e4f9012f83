"""Every text message carloop asked a provider to send, with what became of it (never its variables:
a sign-in code is not stored here in any form)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId


class SmsMessage(Base):
    """One send: to whom, which template, the provider's message id or its refusal."""

    __tablename__ = "sms_message"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Idempotency: a notice's delivery key; a sent row with this key is never sent again. None for codes.
    key: Mapped[str | None] = mapped_column(String(120), unique=True)
    provider: Mapped[str] = mapped_column(String(12))
    phone: Mapped[str] = mapped_column(String(16), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    template_code: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(12))  # sent | failed
    provider_message_id: Mapped[str] = mapped_column(String(100), default="")
    error_code: Mapped[str] = mapped_column(String(100), default="")
    attempts: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"SmsMessage(id={self.id!r}, status={self.status!r})"

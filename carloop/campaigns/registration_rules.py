"""Pure rules of pre-registration and opening notices: the countdown, who a wave reaches, and when
each registrant's notice may go out so the SMS provider's rate is never exceeded."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

CITY_MAX = 40
CHANNEL_MAX = 40
_CHANNEL = re.compile(r"[A-Za-z0-9_.:-]{1,40}")


class NoticeStatus(StrEnum):
    """Where one registrant's opening notice stands."""

    QUEUED = "queued"  # due at its slot; the outbox event waits until then
    SENT = "sent"  # the SMS went out (and the in-app notice, for a registrant with an account)
    FAILED = "failed"  # the provider refuses this number for good; never retried
    SKIPPED = "skipped"  # no SMS provider (the demo): in-app only, or nothing to send


@dataclass(frozen=True, slots=True)
class Countdown:
    """Time left until a reveal, in whole units for a countdown display."""

    seconds: int
    days: int
    hours: int
    minutes: int
    secs: int

    @property
    def revealed(self) -> bool:
        """Whether the reveal moment has passed."""
        return self.seconds <= 0


def countdown(reveal_at: datetime, now: datetime) -> Countdown:
    """Whole seconds (rounded up, never below zero) until ``reveal_at``, also split into d/h/m/s."""
    left = max(0, math.ceil((reveal_at - now).total_seconds()))
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return Countdown(left, days, hours, minutes, secs)


def can_register(*, reveal_at: datetime, ends_at: datetime | None, now: datetime) -> bool:
    """Interest is registered until the campaign ends (after the reveal it still links a phone to
    the campaign, but no opening notice is due any more for a newcomer who sees the page)."""
    return ends_at is None or now < ends_at


def clean_city(raw: str) -> str | None:
    """A city name as typed (NFKC, trimmed, inner spaces collapsed), or None if empty or too long."""
    text = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not text or len(text) > CITY_MAX or any(unicodedata.category(c).startswith("C") for c in text):
        return None
    return text


def clean_channel(raw: str | None) -> str | None:
    """A channel tag (letters, digits, ``_.:-``, up to 40), "" when absent, None when malformed."""
    if raw is None or not raw.strip():
        return ""
    text = raw.strip()
    return text if _CHANNEL.fullmatch(text) else None


@dataclass(frozen=True, slots=True)
class Segment:
    """Which registrants a wave of opening notices reaches; an empty tuple means any."""

    models: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    def matches(self, *, model: str, city: str, channel: str) -> bool:
        """Whether a registrant of this model, city and channel is in the segment."""
        return _within(self.models, model) and _within(self.cities, city) and _within(self.channels, channel)

    def describe(self) -> str:
        """A short label for logs and the console: ``model=ET7 city=上海`` or ``everyone``."""
        parts = [
            f"{name}={','.join(values)}"
            for name, values in (("model", self.models), ("city", self.cities), ("channel", self.channels))
            if values
        ]
        return " ".join(parts) or "everyone"


def _within(allowed: Collection[str], value: str) -> bool:
    return not allowed or value in allowed


def send_slot(start: datetime, sequence: int, per_second: int) -> datetime:
    """When the ``sequence``-th notice (from 0) of a campaign may go out at ``per_second`` messages
    a second: ``per_second`` notices share each whole second after ``start``, so no second ever
    carries more than the provider's rate, whichever process sends."""
    if per_second < 1:
        raise ValueError("the sending rate must be at least one message a second")
    return start + timedelta(seconds=sequence // per_second)


def last_slot(start: datetime, count: int, per_second: int) -> datetime:
    """The slot of the last of ``count`` notices (``start`` when there are none)."""
    return send_slot(start, max(0, count - 1), per_second)

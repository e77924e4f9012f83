"""Time: everything is stored in UTC and shown in the business's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The days a request may name. Far enough from the calendar's ends (year 1 and 9999) that a local day's
# midnight moved to UTC, the day after it, or a period before it never leaves Python's dates (OverflowError).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
# The moments a request may name: from the first day's start to the last day's end, in UTC.
FIRST_MOMENT = datetime.combine(FIRST_DAY, time(), UTC)
LAST_MOMENT = datetime.combine(LAST_DAY, time.max, UTC)


def utcnow() -> datetime:
    """The current moment as an aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive values (as SQLite returns them) are taken to be UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)

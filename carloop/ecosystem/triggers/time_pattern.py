"""``time_pattern``: every matching hour/minute/second (``"/5"`` means every fifth)."""

from __future__ import annotations

from carloop.ecosystem.rules import pattern_hits
from carloop.ecosystem.runs import Watch
from carloop.ecosystem.scene_triggers import (
    TimePatternTrigger,
)
from carloop.ecosystem.triggers.host import Detach, Host
from carloop.ecosystem.triggers.time import SCAN_S

KINDS = (TimePatternTrigger,)


def attach(host: Host, watch: Watch) -> Detach:
    """Listen to the clock."""
    return host.listen("time", "", watch)


def hit(host: Host, watch: Watch, start: float, end: float) -> float | None:
    """The first second in (start, end] the pattern matches (unset smaller units mean 0, as in HA)."""
    t = watch.trigger
    assert isinstance(t, TimePatternTrigger)
    hours, minutes, seconds = t.hours, t.minutes, t.seconds
    if seconds is None:
        seconds = 0
    if minutes is None and hours is not None:
        minutes = 0
    first = int(start) + 1
    for second in range(first, min(int(end), first + SCAN_S) + 1):
        local = host.local(second)
        if (
            pattern_hits(hours, local.hour)
            and pattern_hits(minutes, local.minute)
            and pattern_hits(seconds, local.second)
        ):
            return float(second)
    return None

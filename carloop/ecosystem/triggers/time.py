"""``time``: a time of day in the owner's time zone."""

from __future__ import annotations

from carloop.ecosystem.rules import parse_clock
from carloop.ecosystem.runs import Watch
from carloop.ecosystem.scene_triggers import (
    TimeTrigger,
)
from carloop.ecosystem.triggers.host import Detach, Host

KINDS = (TimeTrigger,)
SCAN_S = 3600  # at most an hour of a long pause is scanned


def attach(host: Host, watch: Watch) -> Detach:
    """Listen to the clock."""
    return host.listen("time", "", watch)


def hit(host: Host, watch: Watch, start: float, end: float) -> float | None:
    """The first second in (start, end] at the trigger's time of day, if any."""
    t = watch.trigger
    assert isinstance(t, TimeTrigger)
    at = parse_clock(t.at)
    first = int(start) + 1
    for second in range(first, min(int(end), first + SCAN_S) + 1):
        local = host.local(second)
        if (local.hour, local.minute, local.second) == (at.hour, at.minute, at.second):
            return float(second)
    return None

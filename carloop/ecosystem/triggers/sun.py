"""``sun``: sunrise or sunset (with an ``offset``) at the owner's home, computed from its coordinates.

The sunrise equation (NOAA's simplified form, within a minute or two of published times at
mid-latitudes); no sunrise or sunset on a polar day or night means no trigger that day.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from carloop.ecosystem.runs import Watch
from carloop.ecosystem.scene_triggers import (
    SunTrigger,
)
from carloop.ecosystem.triggers.host import Detach, Host

KINDS = (SunTrigger,)
J2000 = 2451545.0
UNIX_EPOCH_JD = 2440587.5


def attach(host: Host, watch: Watch) -> Detach:
    """Listen to the clock."""
    return host.listen("time", "", watch)


def sun_times(day: date, latitude: float, longitude: float) -> tuple[float, float] | None:
    """(sunrise, sunset) of a calendar day at a place, as POSIX seconds; None on a polar day/night."""
    n = day.toordinal() - date(2000, 1, 1).toordinal()
    mean_noon = n - longitude / 360.0
    anomaly = math.radians((357.5291 + 0.98560028 * mean_noon) % 360)
    centre = 1.9148 * math.sin(anomaly) + 0.0200 * math.sin(2 * anomaly) + 0.0003 * math.sin(3 * anomaly)
    ecliptic = math.radians((math.degrees(anomaly) + centre + 180 + 102.9372) % 360)
    transit = J2000 + mean_noon + 0.0053 * math.sin(anomaly) - 0.0069 * math.sin(2 * ecliptic)
    declination = math.asin(math.sin(ecliptic) * math.sin(math.radians(23.4397)))
    phi = math.radians(latitude)
    cos_hour = (math.sin(math.radians(-0.833)) - math.sin(phi) * math.sin(declination)) / (
        math.cos(phi) * math.cos(declination)
    )
    if not -1.0 <= cos_hour <= 1.0:
        return None
    half_day = math.degrees(math.acos(cos_hour)) / 360.0
    return (
        (transit - half_day - UNIX_EPOCH_JD) * 86400.0,
        (transit + half_day - UNIX_EPOCH_JD) * 86400.0,
    )


def hit(host: Host, watch: Watch, start: float, end: float) -> float | None:
    """The trigger's instant (sun event + offset) in (start, end], if there is one."""
    t = watch.trigger
    assert isinstance(t, SunTrigger)
    home = host.home_of(watch.owner_id)
    if home is None:
        return None
    first = host.local(start).date() - timedelta(days=1)
    last = host.local(end).date() + timedelta(days=1)
    day = first
    while day <= last:
        times = sun_times(day, home.latitude, home.longitude)
        if times is not None:
            moment = (times[0] if t.event == "sunrise" else times[1]) + t.offset
            if start < moment <= end:
                return float(math.floor(moment))
        day += timedelta(days=1)
    return None

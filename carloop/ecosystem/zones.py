"""Where a vehicle or phone is relative to its owner's zones: membership with hysteresis, enter/leave
events, and the track (distance and heading) the proximity trigger reads. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from carloop.ecosystem.rules import Zone, distance_m, inside_zone

DIRECTION_NOISE_M = 30.0  # a move smaller than this does not change approaching/leaving


@dataclass(slots=True)
class Track:
    """What the engine remembers about one vehicle or phone relative to one zone."""

    distance: float
    anchor: float
    direction: str = "unknown"


def locate(
    entity_id: str,
    where: tuple[float, float],
    accuracy: float | None,
    zones: Iterable[Zone],
    before: frozenset[str] | None,
    tracks: dict[tuple[str, str], Track],
) -> tuple[frozenset[str], list[tuple[str, str]]]:
    """The zones a fix is in and the (zone, "enter"|"leave") events it makes; updates ``tracks``.

    ``before`` is None for the first fix (like Home Assistant: a first position is no transition);
    a fix less precise than a zone's radius never moves the car in or out of it.
    """
    inside: set[str] = set()
    events: list[tuple[str, str]] = []
    for zone in zones:
        d = distance_m(where[0], where[1], zone.latitude, zone.longitude)
        track = tracks.get((entity_id, zone.id))
        if track is None:
            tracks[(entity_id, zone.id)] = Track(d, d)
        else:
            track.distance = d
            if d < track.anchor - DIRECTION_NOISE_M:
                track.direction, track.anchor = "approaching", d
            elif d > track.anchor + DIRECTION_NOISE_M:
                track.direction, track.anchor = "leaving", d
        was = before is not None and zone.id in before
        vague = accuracy is not None and accuracy > zone.radius_m
        now = was if vague else inside_zone(zone, d, was)
        if now:
            inside.add(zone.id)
        if now != was and before is not None:
            events.append((zone.id, "enter" if now else "leave"))
    return frozenset(inside), events

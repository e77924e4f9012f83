"""What the owner's page shows of each device, live: a small dict per device, computed from its stored
state and the owner's homes, so the page can be updated in place (server-sent events, ``live_pages``)
and rendered the same way on first load. Pure: no database, no web."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from carloop.ecosystem.rules import as_number, distance_m, location_of


@dataclass(frozen=True, slots=True)
class Place:
    """A home of the owner's, as the page names it."""

    name: str
    latitude: float
    longitude: float
    radius_m: float


def where(state: Mapping[str, Any], homes: Iterable[Place]) -> str:
    """The name of the home the car is at, or "" when it is elsewhere or its position is unknown."""
    point = location_of(state)
    if point is None:
        return ""
    for home in homes:
        if distance_m(point[0], point[1], home.latitude, home.longitude) <= home.radius_m:
            return home.name
    return ""


def _number(value: Any, digits: int = 0) -> str:
    number = as_number(value)
    if number is None:
        return "–"
    return f"{number:.{digits}f}"


def view(state: Mapping[str, Any], homes: Iterable[Place]) -> dict[str, Any]:
    """The live fields of one device: the same keys for every device, strings ready to show."""
    destination = state.get("destination")
    online = state.get("online")
    return {
        "battery": _number(state.get("battery")),
        "speed": _number(state.get("speed", 0)),
        "locked": bool(state.get("locked", True)),
        "cabin_temp": _number(state.get("cabin_temp"), 1),
        "destination": str(destination.get("name", "")) if isinstance(destination, Mapping) else "",
        "home": where(state, homes),
        "moving": (as_number(state.get("speed")) or 0) > 0,
        "online": None if online is None else bool(online),
        "state": str(state.get("state", "")),
    }

"""Pure rules of the ecosystem: geometry, zone hysteresis, privacy precision and condition checks."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from carloop.ecosystem.kinds import Precision
from carloop.ecosystem.schemas import (
    AndCondition,
    Condition,
    NotCondition,
    NumericStateCondition,
    OrCondition,
    StateCondition,
    TemplateCondition,
    TimeCondition,
    TriggerCondition,
    ZoneCondition,
)
from carloop.ecosystem.templates import TemplateError, truthy

EARTH_RADIUS_M = 6_371_008.8
KM_GRID_DEGREES = 0.01  # about 1.1 km of latitude; the "~1 km" precision rounds to this grid
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Zone:
    """A circle on the map; leaving needs ``radius_m + hysteresis_m`` so edge jitter fires once."""

    id: str
    latitude: float
    longitude: float
    radius_m: float
    hysteresis_m: float = 50.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def inside_zone(zone: Zone, distance: float, was_inside: bool | None) -> bool:
    """Whether a position ``distance`` metres from the centre counts as inside, given the last answer."""
    if was_inside:
        return distance <= zone.radius_m + zone.hysteresis_m
    return distance <= zone.radius_m


def location_of(state: Mapping[str, Any]) -> tuple[float, float] | None:
    """The (latitude, longitude) in a telemetry state, if it has one."""
    lat, lon = state.get("latitude"), state.get("longitude")
    if isinstance(lat, int | float) and isinstance(lon, int | float) and not isinstance(lat, bool):
        return float(lat), float(lon)
    return None


LOCATION_KEYS = ("latitude", "longitude", "accuracy", "heading", "destination")


def redact(state: Mapping[str, Any], precision: Precision, zones_inside: list[str]) -> dict[str, Any]:
    """A state as a scene of ``precision`` may see it: zone names only, ~1 km, or exact."""
    out = {k: v for k, v in state.items() if k not in LOCATION_KEYS}
    if precision is Precision.EXACT:
        return dict(state)
    out["zones"] = sorted(zones_inside)
    where = location_of(state)
    if precision is Precision.KM and where is not None:
        out["latitude"] = round(round(where[0] / KM_GRID_DEGREES) * KM_GRID_DEGREES, 4)
        out["longitude"] = round(round(where[1] / KM_GRID_DEGREES) * KM_GRID_DEGREES, 4)
    return out


COORDINATE = re.compile(r"-?\d{1,3}\.\d{3,}")  # a number precise enough to be a coordinate


def redact_payload(payload: str, precision: Precision, zones_inside: list[str]) -> str:
    """A device message (JSON or text) as a scene of ``precision`` below exact may see it: every
    object with coordinates is redacted like a state; text that looks like coordinates is withheld."""
    if precision is Precision.EXACT:
        return payload
    try:
        body = json.loads(payload)
    except ValueError:
        return "" if COORDINATE.search(payload) else payload

    def cut(value: Any, top: bool) -> Any:
        if isinstance(value, list):
            return [cut(v, False) for v in value]
        if not isinstance(value, dict):
            return value
        inner = {k: cut(v, False) for k, v in value.items() if k not in ("gps", "destination")}
        if top:
            return redact(inner, precision, zones_inside)
        if location_of(inner) is None:
            return inner
        seen = redact(inner, precision, [])
        seen.pop("zones", None)
        return seen

    return json.dumps(cut(body, True), separators=(",", ":"))


def precision_allows(needed: Precision, granted: Precision) -> bool:
    """Whether data of ``granted`` precision satisfies a use that needs ``needed``."""
    order = [Precision.ZONE, Precision.KM, Precision.EXACT]
    return order.index(granted) >= order.index(needed)


def parse_clock(text: str) -> time:
    """``"HH:MM"`` or ``"HH:MM:SS"`` as a time of day."""
    parts = [int(p) for p in text.split(":")]
    return time(parts[0], parts[1], parts[2] if len(parts) > 2 else 0)


def in_window(now: time, after: time | None, before: time | None) -> bool:
    """Whether ``now`` is in [after, before); a window that wraps midnight is allowed."""
    if after is None and before is None:
        return True
    if after is not None and before is not None and after > before:
        return now >= after or now < before
    return (after is None or now >= after) and (before is None or now < before)


def as_number(value: Any) -> float | None:
    """A numeric reading, or None when the value is missing or not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def in_range(value: float | None, above: float | None, below: float | None) -> bool:
    """Home Assistant's numeric_state test: strictly above and strictly below."""
    if value is None:
        return False
    return (above is None or value > above) and (below is None or value < below)


def matches(expected: Any, actual: Any) -> bool:
    """A state test: equal, or one of a list of values (compared as text, as HA does)."""
    if isinstance(expected, list):
        return any(matches(e, actual) for e in expected)
    return str(expected) == str(actual) if not isinstance(expected, bool) else expected == actual


@dataclass(frozen=True, slots=True)
class World:
    """What conditions may look at: entity states, zone memberships, the local time, the trigger id."""

    states: Mapping[str, Mapping[str, Any]]
    zones_of: Mapping[str, frozenset[str]]
    local_now: datetime
    trigger_id: str | None = None
    variables: Mapping[str, Any] | None = None  # the run's: trigger, repeat, its own variables

    def template_vars(self) -> dict[str, Any]:
        """What a template may read: the run's variables, ``states()`` as the scene sees them, ``now()``."""

        def states(entity_id: str, attribute: str = "state") -> Any:
            return self.states.get(entity_id, {}).get(attribute) if entity_id in self.states else None

        return {**(self.variables or {}), "states": states, "now": lambda: self.local_now}


def check(condition: Condition, world: World) -> bool:
    """Evaluate one condition against the world."""
    if isinstance(condition, AndCondition):
        return all(check(c, world) for c in condition.conditions)
    if isinstance(condition, OrCondition):
        return any(check(c, world) for c in condition.conditions)
    if isinstance(condition, NotCondition):
        return not any(check(c, world) for c in condition.conditions)
    if isinstance(condition, StateCondition):
        state = world.states.get(condition.entity_id, {})
        return condition.attribute in state and matches(condition.state, state[condition.attribute])
    if isinstance(condition, NumericStateCondition):
        value = as_number(world.states.get(condition.entity_id, {}).get(condition.attribute))
        return in_range(value, condition.above, condition.below)
    if isinstance(condition, TimeCondition):
        now = world.local_now
        if condition.weekday and WEEKDAYS[now.weekday()] not in condition.weekday:
            return False
        after = parse_clock(condition.after) if condition.after else None
        before = parse_clock(condition.before) if condition.before else None
        return in_window(now.time(), after, before)
    if isinstance(condition, ZoneCondition):
        return condition.zone in world.zones_of.get(condition.entity_id, frozenset())
    if isinstance(condition, TriggerCondition):
        return world.trigger_id == condition.id
    if isinstance(condition, TemplateCondition):
        try:
            return truthy(condition.value_template, world.template_vars())
        except TemplateError:
            return False  # an unrenderable condition does not hold
    raise TypeError(f"unknown condition {condition!r}")


def check_all(conditions: list[Condition], world: World) -> tuple[bool, list[dict[str, Any]]]:
    """Whether all conditions hold, with each one's result for the trace."""
    results: list[dict[str, Any]] = []
    for condition in conditions:
        ok = check(condition, world)
        results.append({"condition": condition.condition, "result": ok})
        if not ok:
            return False, results
    return True, results


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter matching with ``+`` and ``#``."""
    pparts, tparts = pattern.split("/"), topic.split("/")
    for i, part in enumerate(pparts):
        if part == "#":
            return True
        if i >= len(tparts) or (part != "+" and part != tparts[i]):
            return False
    return len(pparts) == len(tparts)


def pattern_hits(pattern: str | int | None, value: int) -> bool:
    """One field of a time_pattern trigger (``None``/``*`` any, ``/n`` every n, else equal)."""
    if pattern is None or pattern == "*":
        return True
    text = str(pattern)
    if text.startswith("/"):
        return value % int(text[1:]) == 0
    return value == int(text)


class RedactedStates(Mapping[str, Mapping[str, Any]]):
    """Entity states as one scene may see them (the bridge's privacy filter for conditions)."""

    def __init__(
        self,
        states: Mapping[str, Mapping[str, Any]],
        zones_of: Mapping[str, frozenset[str]],
        precision: Precision,
        location_allowed: bool,
    ) -> None:
        self._states, self._zones = states, zones_of
        self._precision = precision if location_allowed else Precision.ZONE
        self._allowed = location_allowed

    def __getitem__(self, key: str) -> Mapping[str, Any]:
        zones = sorted(self._zones.get(key, ())) if self._allowed else []
        return redact(self._states[key], self._precision, zones)

    def __iter__(self) -> Iterator[str]:
        return iter(self._states)

    def __len__(self) -> int:
        return len(self._states)

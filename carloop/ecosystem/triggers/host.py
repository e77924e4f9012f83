"""What trigger platforms get from the engine (``Host``) and give back (``Detach``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from carloop.ecosystem.rules import Zone
from carloop.ecosystem.runs import Watch

Detach = Callable[[], None]


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """One state report of a watched entity, as every platform's ``on_state`` receives it."""

    entity_id: str
    old: Mapping[str, Any]  # the entity's state before the report
    new: Mapping[str, Any]  # after it
    changes: Mapping[str, Any]  # what the report carried
    zone_events: list[tuple[str, str]]  # (zone id, "enter" | "leave") the report caused
    at: float
    cause: Mapping[str, Any]


class Track(Protocol):
    """What the engine remembers about a device relative to a zone."""

    distance: float
    direction: str


class Host(Protocol):
    """What trigger platforms need from the engine."""

    def listen(self, bucket: str, key: str, watch: Watch) -> Detach: ...
    def fire(self, watch: Watch, tvars: dict[str, Any], at: float, cause: Mapping[str, Any]) -> None: ...
    def held(
        self, watch: Watch, for_: float | None, tvars: dict[str, Any], at: float, cause: Mapping[str, Any]
    ) -> None: ...
    def cancel_hold(self, watch: Watch) -> None: ...
    def track(self, entity_id: str, zone_id: str) -> Track | None: ...
    def local(self, at: float) -> datetime: ...
    def home_of(self, owner_id: int) -> Zone | None: ...

"""What the engine and the script runner share: effects to carry out, attached triggers (watches),
loaded scenes and their runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from carloop.ecosystem.kinds import Precision
from carloop.ecosystem.scene_triggers import (
    Trigger,
)
from carloop.ecosystem.schemas import (
    Action,
    SceneDefinition,
    WaitAction,
)
from carloop.ecosystem.traces import Trace


@dataclass(slots=True)
class Effect:
    """Something the bridge must do: a device command, a phone notification or a destination."""

    kind: str  # "command" | "notify" | "destination"
    scene_id: int
    run_id: str
    entity_id: str | None
    command: str
    args: dict[str, Any]
    cause: Mapping[str, Any]


@dataclass(slots=True)
class Watch:
    """One attached trigger and the per-trigger memory it needs (edges, ``for`` deadlines, debounce)."""

    trigger: Trigger
    on_fire: Callable[[dict[str, Any], float, Mapping[str, Any]], None]
    owner_id: int
    precision: Precision
    debounce: float = 0.0
    armed: bool = True
    deadline: float | None = None
    pending_vars: dict[str, Any] | None = None
    last_fired: float | None = None
    location: bool = True  # False when the owner revoked the scene's access to locations
    detach: Callable[[], None] | None = None  # what its platform's attach returned


@dataclass(slots=True)
class LoadedScene:
    """A scene the engine runs: its definition, attached triggers, active runs and queue."""

    id: int
    owner_id: int
    definition: SceneDefinition
    location_allowed: bool
    watches: list[Watch] = field(default_factory=list)
    active: list[str] = field(default_factory=list)
    queue: list[tuple[dict[str, Any], Mapping[str, Any]]] = field(default_factory=list)


@dataclass(slots=True)
class Run:
    """One run of a scene: what remains to do, its variables and trace, and what it waits on."""

    scene: LoadedScene
    run_id: str
    remaining: list[Action]
    variables: dict[str, Any]
    trace: Trace
    cause: Mapping[str, Any]
    resume_at: float | None = None
    waiting: WaitAction | None = None
    wait_watches: list[Watch] = field(default_factory=list)

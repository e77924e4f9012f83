"""The trace store: every scene run leaves a trace (trigger, conditions, each step, outcome).

The engine keeps the last ``TRACES_KEPT`` per scene in memory for the owner's page and hands each
finished trace over once (``drain``) for the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TRACES_KEPT = 20  # per scene, in memory and in the database


@dataclass(slots=True)
class Trace:
    """One run: trigger, condition results and steps, as the owner reads it."""

    scene_id: int
    run_id: str
    started_at: float
    trigger: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "running"
    finished_at: float | None = None


class TraceStore:
    """The last traces of each scene, and the finished ones not yet handed over."""

    def __init__(self, kept: int = TRACES_KEPT) -> None:
        self.kept = kept
        self._by_scene: dict[int, list[Trace]] = {}
        self._finished: list[Trace] = []

    def finish(self, trace: Trace, at: float, outcome: str) -> None:
        """Close a trace with its outcome and keep it."""
        trace.outcome, trace.finished_at = outcome, at
        kept = self._by_scene.setdefault(trace.scene_id, [])
        kept.append(trace)
        del kept[: -self.kept]
        self._finished.append(trace)

    def of(self, scene_id: int) -> list[Trace]:
        """A scene's kept traces, newest first."""
        return list(reversed(self._by_scene.get(scene_id, [])))

    def forget(self, scene_id: int) -> None:
        """Drop a scene's kept traces (it was unloaded)."""
        self._by_scene.pop(scene_id, None)

    def drain(self) -> list[Trace]:
        """Hand over (and forget) the traces finished since the last call."""
        out, self._finished = self._finished, []
        return out

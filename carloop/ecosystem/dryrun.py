"""Dry run: a scene against a recorded drive, before the owner enables it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from carloop.ecosystem.engine import Effect, Engine, Trace
from carloop.ecosystem.rules import Zone
from carloop.ecosystem.schemas import SceneDefinition

DRY_SCENE_ID = 0
TAIL_S = 3600.0  # after the recording ends, let delays and waits play out for up to an hour


@dataclass
class DryRun:
    """When the scene would have fired and what it would have done."""

    effects: list[tuple[float, Effect]] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)
    samples: int = 0


def dry_run(
    definition: SceneDefinition,
    *,
    owner_id: int,
    zones: Sequence[Zone],
    entities: Mapping[str, Mapping[str, Any]],
    recording: Sequence[Mapping[str, Any]],
    timezone: str = "Asia/Shanghai",
) -> DryRun:
    """Replay ``recording`` (samples of ``{"t", "entity_id", "state"}``) through a private engine."""
    engine = Engine(timezone=timezone)
    engine.set_zones(owner_id, list(zones))
    for entity_id, state in entities.items():
        engine.set_entity(entity_id, owner_id, state)
    engine.load(DRY_SCENE_ID, owner_id, definition)
    result = DryRun()
    samples = sorted(recording, key=lambda s: float(s["t"]))
    if samples:
        engine.last_tick = float(samples[0]["t"]) - 1
    last = 0.0
    for sample in samples:
        at = float(sample["t"])
        result.effects += [(at, e) for e in engine.tick(at)]
        result.effects += [
            (at, e) for e in engine.update(str(sample["entity_id"]), dict(sample["state"]), at)
        ]
        result.samples += 1
        last = at
    end = last + TAIL_S
    at = last
    while engine.runs and at < end:
        nxt = min((r.resume_at for r in engine.runs.values() if r.resume_at is not None), default=None)
        if nxt is None:
            break
        at = max(at + 1, nxt)
        result.effects += [(at, e) for e in engine.tick(at)]
    _, traces, _ = engine.drain()
    result.traces = traces + [r.trace for r in engine.runs.values()]
    return result

"""The scene bench's owners, as every bridge process of it builds them: homes ~2 km apart, one car, one
light and one "coming home" scene each; and the counting wrapper around a bridge's state handler."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from carloop.ecosystem.bridge import Bridge
from carloop.ecosystem.engine import Engine

HOME = (31.2196, 121.5447)
SPEED_KMH = 36.0  # 10 m/s
RADIUS_M = 150.0
JITTER_M = 10.0


def home_of(i: int) -> tuple[float, float]:
    """Each owner's home: spread over a grid ~2 km apart so zones never overlap."""
    return HOME[0] + (i % 40) * 0.02, HOME[1] + (i // 40) * 0.02


def fleet_engine(
    vehicles: int, base: int, cars: Iterable[int] | None = None
) -> tuple[Engine, dict[str, Any]]:
    """The engine of the bench's owners (``cars``: the indices of the ones served; default all): a home
    zone, a car, a light and "coming home" each; with the cars' Home Assistant infos."""
    from carloop.ecosystem.bridge import VehicleInfo
    from carloop.ecosystem.presets import preset
    from carloop.ecosystem.rules import Zone
    from carloop.ecosystem.schemas import SceneDefinition

    engine = Engine()
    infos = {}
    for i in range(vehicles) if cars is None else cars:
        owner, car, light = base + i, f"vehicle.{base + i}", f"light.{base + i}"
        engine.set_zones(owner, [Zone("zone.home", *home_of(i), radius_m=RADIUS_M)])
        engine.set_entity(car, owner)
        engine.set_entity(light, owner)
        definition = SceneDefinition.model_validate(preset("coming_home", vehicle=car, devices=[light]))
        engine.load(owner, owner, definition)
        infos[car] = VehicleInfo(f"Car {i}", "su7")
    return engine, infos


class Counted:
    """A bridge's state messages counted and timed (state in -> command handed to the client)."""

    def __init__(self, bridge: Bridge) -> None:
        from carloop.ecosystem.protocol import entity_of

        self.processed, self.handling, self.traces = 0, list[float](), 0
        original, engine = bridge._on_state, bridge.engine

        def counting(topic: str, payload: bytes) -> None:
            started = time.perf_counter()
            original(topic, payload)
            if entity_of(topic) in engine.entity_owner:  # the shared broker may carry other devices' states
                self.processed += 1
                self.handling.append((time.perf_counter() - started) * 1000)

        bridge._on_state = counting  # type: ignore[method-assign]

    def sink(self, traces: list[Any], pending: Any, states: Any) -> None:
        """The bench's sink: counts traces."""
        self.traces += len(traces)

    def report(self, bridge: Bridge) -> dict[str, Any]:
        """What the bridge process sends back."""
        self.handling.sort()
        p99 = self.handling[int(len(self.handling) * 0.99) - 1] if self.handling else 0.0
        return {
            "processed": self.processed,
            "traces": self.traces,
            "commands": bridge.commands_sent,
            "handle_p99_ms": p99,
        }

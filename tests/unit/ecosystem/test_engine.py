"""The scene engine: triggers, hysteresis, debounce, modes, delays that survive a restart, traces."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carloop.ecosystem.engine import Engine
from carloop.ecosystem.models import Precision
from carloop.ecosystem.rules import Zone, distance_m
from carloop.ecosystem.schemas import SceneDefinition
from carloop.ecosystem.simulator import PLACES, ROUTES, offset, record_drive

HOME = PLACES["home"]
OWNER = 1
CAR = "vehicle.1"
LIGHT = "light.2"
AC = "climate.3"
T0 = 1_780_000_000.0  # a fixed instant; the engine never reads the wall clock


def scene(**overrides: Any) -> SceneDefinition:
    data: dict[str, Any] = {
        "alias": "Coming home",
        "triggers": [{"trigger": "zone", "entity_id": CAR, "zone": "zone.home", "event": "enter"}],
        "actions": [
            {"action": "carloop.command", "target": {"entity_id": LIGHT}, "data": {"command": "turn_on"}},
            {"action": "carloop.command", "target": {"entity_id": AC}, "data": {"command": "turn_on"}},
        ],
    }
    data.update(overrides)
    return SceneDefinition.model_validate(data)


def engine_with(*definitions: SceneDefinition) -> Engine:
    engine = Engine()
    engine.set_zones(OWNER, [Zone("zone.home", *HOME, radius_m=150, hysteresis_m=50)])
    for entity in (CAR, LIGHT, AC, "lock.4", "phone.5"):
        engine.set_entity(entity, OWNER)
    for i, definition in enumerate(definitions, start=1):
        engine.load(i, OWNER, definition)
    return engine


def at_distance(metres: float, bearing: float = 0.0) -> dict[str, float]:
    lat, lon = offset(HOME, metres, bearing)
    return {"latitude": lat, "longitude": lon}


def test_car_entering_home_zone_commands_the_devices_once() -> None:
    engine = engine_with(scene())
    fired = []
    for i, d in enumerate([2000, 1000, 400, 140, 60, 20]):
        fired += engine.update(CAR, at_distance(d), T0 + i)
    assert [(e.entity_id, e.command) for e in fired] == [(LIGHT, "turn_on"), (AC, "turn_on")]
    _, traces, _ = engine.drain()
    assert traces[0].outcome == "finished"
    assert traces[0].trigger["event"] == "enter"
    assert [s["step"] for s in traces[0].steps] == ["conditions", "command", "command"]


def test_a_first_position_inside_the_zone_is_not_an_arrival() -> None:
    engine = engine_with(scene())
    assert engine.update(CAR, at_distance(20), T0) == []
    assert engine.update(CAR, at_distance(400), T0 + 60) == []
    assert len(engine.update(CAR, at_distance(20), T0 + 120)) == 2


def test_last_known_position_after_a_restart_is_not_an_arrival() -> None:
    engine = Engine()
    engine.set_zones(OWNER, [Zone("zone.home", *HOME, radius_m=150)])
    engine.set_entity(CAR, OWNER, at_distance(10))
    engine.set_entity(LIGHT, OWNER)
    engine.set_entity(AC, OWNER)
    engine.load(1, OWNER, scene())
    assert engine.update(CAR, at_distance(12), T0) == []


def test_gps_jitter_at_the_zone_edge_fires_once() -> None:
    engine = engine_with(scene(debounce=0))
    fired = []
    # the car parks right at the edge; fixes scatter 40 m either side of the 150 m radius
    for i, d in enumerate([400, 145, 185, 120, 190, 149, 170, 151, 130, 188]):
        fired += engine.update(CAR, at_distance(d, bearing=i * 37), T0 + i * 5)
    assert len([e for e in fired if e.entity_id == LIGHT]) == 1


def test_leaving_beyond_the_hysteresis_band_and_coming_back_fires_again() -> None:
    engine = engine_with(scene(debounce=0))
    fired = []
    for i, d in enumerate([500, 100, 260, 100]):
        fired += engine.update(CAR, at_distance(d), T0 + i * 60)
    assert len([e for e in fired if e.entity_id == LIGHT]) == 2


def test_debounce_ignores_a_second_fire_within_the_window() -> None:
    engine = engine_with(scene(debounce=120))
    fired = []
    for i, d in enumerate([500, 100, 260, 100]):
        fired += engine.update(CAR, at_distance(d), T0 + i * 10)
    assert len([e for e in fired if e.entity_id == LIGHT]) == 1


def test_vague_fix_does_not_move_the_car_in_or_out() -> None:
    engine = engine_with(scene())
    engine.update(CAR, at_distance(900), T0)
    assert engine.update(CAR, {**at_distance(20), "accuracy": 800}, T0 + 1) == []
    assert engine.update(CAR, {**at_distance(20), "accuracy": 10}, T0 + 2) != []


def test_conditions_block_the_run_and_the_trace_says_so() -> None:
    definition = scene(
        conditions=[{"condition": "numeric_state", "entity_id": CAR, "attribute": "battery", "below": 30}]
    )
    engine = engine_with(definition)
    engine.update(CAR, {**at_distance(900), "battery": 80}, T0)
    assert engine.update(CAR, {**at_distance(10), "battery": 80}, T0 + 1) == []
    _, traces, _ = engine.drain()
    assert traces[0].outcome == "condition_failed"


def test_delay_survives_a_restart_and_resumes_when_due() -> None:
    definition = scene(
        actions=[
            {"action": "carloop.command", "target": {"entity_id": LIGHT}, "data": {"command": "turn_on"}},
            {"delay": "00:05:00"},
            {"action": "carloop.command", "target": {"entity_id": AC}, "data": {"command": "turn_on"}},
        ]
    )
    first = engine_with(definition)
    first.update(CAR, at_distance(900), T0)
    assert [e.entity_id for e in first.update(CAR, at_distance(10), T0 + 1)] == [LIGHT]
    _, _, pending = first.drain()
    continuation = next(iter(pending.values()))
    assert continuation is not None and continuation["resume_at"] == T0 + 301

    second = engine_with(definition)  # the process restarted: a fresh engine, the stored continuation
    assert second.restore(continuation)
    assert second.tick(T0 + 200) == []
    assert [e.entity_id for e in second.tick(T0 + 302)] == [AC]
    _, traces, pending = second.drain()
    assert traces[0].outcome == "finished"
    assert "restored" in [s["step"] for s in traces[0].steps]
    assert list(pending.values()) == [None]


def test_wait_for_trigger_continues_on_the_trigger_or_stops_on_timeout() -> None:
    definition = scene(
        actions=[
            {
                "wait_for_trigger": [{"trigger": "state", "entity_id": "lock.4", "to": "unlocked"}],
                "timeout": 60,
                "continue_on_timeout": False,
            },
            {"action": "carloop.command", "target": {"entity_id": LIGHT}, "data": {"command": "turn_on"}},
        ]
    )
    engine = engine_with(definition)
    engine.update(CAR, at_distance(900), T0)
    assert engine.update(CAR, at_distance(10), T0 + 1) == []
    assert [e.entity_id for e in engine.update("lock.4", {"state": "unlocked"}, T0 + 30)] == [LIGHT]

    engine = engine_with(definition)
    engine.update(CAR, at_distance(900), T0)
    engine.update(CAR, at_distance(10), T0 + 1)
    assert engine.tick(T0 + 100) == []
    _, traces, _ = engine.drain()
    assert traces[-1].outcome == "wait_timeout"


def test_choose_and_if_pick_the_branch_by_condition() -> None:
    definition = scene(
        actions=[
            {
                "choose": [
                    {
                        "conditions": [{"condition": "state", "entity_id": LIGHT, "state": "on"}],
                        "sequence": [{"action": "carloop.notify", "data": {"message": "already on"}}],
                    }
                ],
                "default": [
                    {
                        "action": "carloop.command",
                        "target": {"entity_id": LIGHT},
                        "data": {"command": "turn_on"},
                    }
                ],
            },
            {
                "if": [{"condition": "zone", "entity_id": CAR, "zone": "zone.home"}],
                "then": [
                    {"action": "carloop.command", "target": {"entity_id": AC}, "data": {"command": "turn_on"}}
                ],
            },
        ]
    )
    engine = engine_with(definition)
    engine.update(LIGHT, {"state": "off"}, T0)
    engine.update(CAR, at_distance(900), T0)
    fired = engine.update(CAR, at_distance(10), T0 + 1)
    assert [(e.kind, e.entity_id) for e in fired] == [("command", LIGHT), ("command", AC)]


@pytest.mark.parametrize(
    ("mode", "starts", "ends"),
    [("single", 1, 1), ("parallel", 3, 3), ("queued", 3, 3), ("restart", 3, 1)],
)
def test_modes_decide_what_a_new_trigger_does_while_a_run_waits(mode: str, starts: int, ends: int) -> None:
    definition = scene(
        mode=mode,
        max=5,
        debounce=0,
        triggers=[{"trigger": "state", "entity_id": "lock.4", "to": "unlocked"}],
        actions=[
            {"action": "carloop.notify", "data": {"message": "start"}},
            {"delay": 100},
            {"action": "carloop.notify", "data": {"message": "end"}},
        ],
    )
    engine = engine_with(definition)
    effects = []
    for i in range(3):
        effects += engine.update("lock.4", {"state": "locked"}, T0 + i * 10)
        effects += engine.update("lock.4", {"state": "unlocked"}, T0 + i * 10 + 1)
    for k in range(1, 6):
        effects += engine.tick(T0 + k * 1000)
    messages = [e.args["message"] for e in effects]
    assert messages.count("start") == starts
    assert messages.count("end") == ends
    if mode == "queued":
        assert messages == ["start", "end"] * 3  # one at a time, in order


def test_proximity_approaching_fires_by_distance_and_not_when_leaving() -> None:
    definition = scene(
        precision="km",
        triggers=[
            {
                "trigger": "proximity",
                "entity_id": CAR,
                "zone": "zone.home",
                "direction": "approaching",
                "below_m": 1000,
            }
        ],
    )
    engine = engine_with(definition)
    fired = []
    for i, d in enumerate([3000, 2000, 1500, 900, 600, 900, 1600, 3000]):
        fired += engine.update(CAR, at_distance(d), T0 + i * 30)
    assert len([e for e in fired if e.entity_id == LIGHT]) == 1
    _, traces, _ = engine.drain()
    assert traces[0].trigger["direction"] == "approaching"
    assert traces[0].trigger["distance_m"] == 1000.0  # rounded to a kilometre at "km" precision


def test_zone_precision_scene_never_sees_coordinates() -> None:
    definition = scene(
        conditions=[{"condition": "state", "entity_id": CAR, "attribute": "latitude", "state": "x"}]
    )
    engine = engine_with(definition)
    engine.update(CAR, at_distance(900), T0)
    engine.update(CAR, at_distance(10), T0 + 1)
    _, traces, _ = engine.drain()
    assert "latitude" not in repr(traces[0].trigger)
    assert traces[0].outcome == "condition_failed"  # the latitude is hidden from the condition


def test_revoked_location_disables_zone_triggers() -> None:
    engine = engine_with()
    engine.load(1, OWNER, scene(), location=False)
    engine.update(CAR, at_distance(900), T0)
    assert engine.update(CAR, at_distance(10), T0 + 1) == []


def test_numeric_state_with_for_fires_only_when_held() -> None:
    definition = scene(
        triggers=[
            {
                "trigger": "numeric_state",
                "entity_id": CAR,
                "attribute": "battery",
                "below": 20,
                "for": "00:01:00",
            }
        ]
    )
    engine = engine_with(definition)
    engine.update(CAR, {"battery": 25}, T0)
    engine.update(CAR, {"battery": 19}, T0 + 1)
    engine.update(CAR, {"battery": 21}, T0 + 30)  # back above: the pending fire is cancelled
    assert engine.tick(T0 + 120) == []
    engine.update(CAR, {"battery": 18}, T0 + 130)
    assert engine.tick(T0 + 189) == []
    assert len(engine.tick(T0 + 191)) == 2


def test_time_pattern_and_mqtt_triggers() -> None:
    engine = engine_with(
        scene(triggers=[{"trigger": "time_pattern", "minutes": "/15"}]),
        scene(
            alias="mq",
            triggers=[{"trigger": "mqtt", "topic": "carloop/v1/owner/1/+/button", "payload": "press"}],
        ),
    )
    engine.tick(1_780_000_000.0)  # 2026-05-28 ... aligned below
    fired = engine.tick(1_780_000_000.0 + 900)
    assert len(fired) == 2
    assert len(engine.message("carloop/v1/owner/1/hall/button", "press", T0 + 1000)) == 2
    assert engine.message("carloop/v1/owner/1/hall/button", "hold", T0 + 1001) == []


def test_run_scene_starts_another_scene_of_the_same_owner() -> None:
    engine = engine_with(
        scene(actions=[{"action": "carloop.run_scene", "data": {"scene": "Lights"}}]),
        scene(alias="Lights", triggers=[{"trigger": "mqtt", "topic": "never"}]),
    )
    engine.update(CAR, at_distance(900), T0)
    assert [e.entity_id for e in engine.update(CAR, at_distance(10), T0 + 1)] == [LIGHT, AC]


def test_recorded_drive_home_enters_the_zone() -> None:
    samples = record_drive(CAR, ROUTES["office-home"], start=T0, speed_kmh=60, jitter_m=15)
    engine = engine_with(scene())
    fired = []
    for s in samples:
        fired += engine.update(CAR, s["state"], s["t"])
    assert len([e for e in fired if e.entity_id == LIGHT]) == 1
    last = samples[-1]["state"]
    assert distance_m(last["latitude"], last["longitude"], *HOME) < 50


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-45, max_value=45), min_size=5, max_size=60))
def test_jitter_within_the_hysteresis_band_never_fires_twice(noise: list[float]) -> None:
    engine = engine_with(scene(debounce=0))
    fired = 0
    fired += len(engine.update(CAR, at_distance(2000), T0))
    for i, n in enumerate(noise):
        fired += len(engine.update(CAR, at_distance(155 + n, bearing=i * 13), T0 + i + 1))
    entered = engine.zones_of.get(CAR, frozenset())
    assert fired in (0, 2)  # zero or one run (two commands), never more
    assert fired == 0 or "zone.home" in entered or any(155 + n > 200 for n in noise)


def test_precision_enum_order() -> None:
    from carloop.ecosystem.rules import precision_allows

    assert precision_allows(Precision.ZONE, Precision.EXACT)
    assert not precision_allows(Precision.EXACT, Precision.KM)

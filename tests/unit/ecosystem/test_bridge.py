"""The bridge and the simulated fleet on the in-memory broker: commands, expiry, HA and privacy."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from carloop.ecosystem import handover
from carloop.ecosystem.bridge import Bridge, VehicleInfo
from carloop.ecosystem.engine import Engine
from carloop.ecosystem.models import Precision
from carloop.ecosystem.mqtt import FakeBroker
from carloop.ecosystem.protocol import (
    BRIDGE_STATUS,
    HA_STATUS,
    OFFLINE,
    command_topic,
    ha_command_topic,
    ha_state_topic,
    new_command,
)
from carloop.ecosystem.rules import Zone
from carloop.ecosystem.schemas import SceneDefinition
from carloop.ecosystem.simulator import PLACES, Fleet, SimCar, SimDevice, offset

CAR, LIGHT = "vehicle.1", "light.2"


class Clock:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


def setup(
    share: Precision = Precision.ZONE, leased: Callable[[], bool] | None = None
) -> tuple[FakeBroker, Bridge, Fleet, Clock]:
    clock = Clock()
    broker = FakeBroker()
    engine = Engine()
    engine.set_zones(1, [Zone("zone.home", *PLACES["home"], radius_m=150)])
    engine.set_entity(CAR, 1)
    engine.set_entity(LIGHT, 1)
    engine.load(
        1,
        1,
        SceneDefinition.model_validate(
            {
                "alias": "Coming home",
                "triggers": [{"trigger": "zone", "entity_id": CAR, "zone": "zone.home"}],
                "actions": [
                    {
                        "action": "carloop.command",
                        "target": {"entity_id": LIGHT},
                        "data": {"command": "turn_on"},
                    }
                ],
            }
        ),
    )
    bridge_client = broker.client(will=(BRIDGE_STATUS, OFFLINE))
    bridge_client.connect()
    vehicles = {CAR: VehicleInfo("My car", "su7", share)}
    bridge = Bridge(bridge_client, engine, vehicles=vehicles, clock=clock, leased=leased)
    bridge.start(tick_interval=None)
    fleet_client = broker.client()
    fleet_client.connect()
    fleet = Fleet(fleet_client, clock=clock)
    fleet.add_car(CAR, SimCar(position=offset(PLACES["home"], 1500, 90)))
    fleet.add_device(LIGHT, SimDevice("light"))
    return broker, bridge, fleet, clock


def test_car_driving_home_switches_the_light_on_through_the_broker() -> None:
    _, _, fleet, clock = setup()
    fleet.drive(CAR, [offset(PLACES["home"], 1500, 90), PLACES["home"]], speed_kmh=60)
    for _ in range(120):
        clock.now += 1
        fleet.step(1)
    assert fleet.devices[LIGHT].state == "on"
    assert [c for e, c, _ in fleet.received] == ["turn_on"]


def test_expired_command_is_ignored_by_the_device() -> None:
    broker, _, fleet, clock = setup()
    stale = new_command("turn_on", now=clock.now - 120, ttl=60)
    broker.client().publish(command_topic(LIGHT), stale.to_json())
    assert fleet.devices[LIGHT].state == "off"
    fresh = new_command("turn_on", now=clock.now)
    broker.client().publish(command_topic(LIGHT), fresh.to_json())
    assert fleet.devices[LIGHT].state == "on"


def test_home_assistant_gets_only_the_zone_unless_the_owner_shares_more() -> None:
    broker, _, fleet, _ = setup(Precision.ZONE)
    fleet.publish(CAR)
    body = json.loads(broker.retained[ha_state_topic(CAR)])
    assert body["attributes"] == {"zones": []} and "latitude" not in json.dumps(body)
    assert body["location"] == "not_home"

    broker, _, fleet, _ = setup(Precision.KM)
    fleet.publish(CAR)
    body = json.loads(broker.retained[ha_state_topic(CAR)])
    assert body["attributes"]["gps_accuracy"] == 1000
    assert round(body["attributes"]["latitude"], 2) == body["attributes"]["latitude"]


def test_discovery_is_published_again_when_home_assistant_comes_online() -> None:
    broker, bridge, _, _ = setup()

    def configs() -> list[str]:
        return [t for t, p, _ in broker.log if t.startswith("homeassistant/") and t.endswith("/config") and p]

    assert len(configs()) == 10
    bridge.publish_discovery()  # unchanged configs are not sent again
    assert len(configs()) == 10
    broker.client().publish(HA_STATUS, "online")
    assert len(configs()) == 20


def test_home_assistant_lock_command_is_stamped_and_forwarded() -> None:
    broker, bridge, fleet, _ = setup()
    fleet.cars[CAR].locked = False
    broker.client().publish(ha_command_topic(CAR), json.dumps({"command": "lock"}))
    assert fleet.cars[CAR].locked
    broker.client().publish(ha_command_topic(CAR), json.dumps({"command": "self_destruct"}))
    assert bridge.commands_sent == 1


def test_bridge_last_will_marks_it_offline() -> None:
    broker, bridge, _, _ = setup()
    assert broker.retained[BRIDGE_STATUS] == b"online"
    bridge.client.drop()  # type: ignore[attr-defined]
    assert broker.retained[BRIDGE_STATUS] == b"offline"


def test_unpaired_device_messages_are_ignored() -> None:
    broker, bridge, _, _ = setup()
    broker.client().publish("carloop/v1/vehicle/999/state", json.dumps({"latitude": 1, "longitude": 2}))
    assert "vehicle.999" not in bridge.engine.states


def test_the_ecosystem_runs_for_the_demo_and_when_asked_only() -> None:
    from carloop.ecosystem.runtime import wanted
    from carloop.settings import Settings

    assert wanted(Settings(environment="development", ecosystem="auto"))
    assert not wanted(
        Settings(environment="development", ecosystem="auto", database_url="sqlite:////tmp/bench.db")
    )
    assert not wanted(Settings(environment="test", ecosystem="auto"))
    assert wanted(Settings(environment="test", ecosystem="on"))
    assert not wanted(Settings(environment="development", ecosystem="off"))


def test_what_a_failed_save_did_not_write_is_written_by_the_next_tick() -> None:
    saved: list[tuple[int, dict[str, dict[str, object]]]] = []
    failures = [RuntimeError("database is locked")]

    def sink(traces: list[object], pending: dict[str, object], states: dict[str, dict[str, object]]) -> None:
        if failures:
            raise failures.pop()
        saved.append((len(traces), states))

    _, bridge, fleet, clock = setup()
    bridge.sink = sink
    fleet.drive(CAR, [offset(PLACES["home"], 1500, 90), PLACES["home"]], speed_kmh=60)
    for _ in range(120):
        clock.now += 1
        fleet.step(1)
    with pytest.raises(RuntimeError):
        bridge.tick()  # the drive's states and the arrival's trace: the write fails
    assert saved == []
    for _ in range(3):  # the car keeps reporting while the database is away
        clock.now += 1
        fleet.step(1)
    bridge.tick()  # writes what failed under what came since
    assert len(saved) == 1
    traces, states = saved[0]
    assert traces == 1  # the run of "Coming home" that switched the light on
    assert set(states) == {CAR, LIGHT}
    reported = {k: v for k, v in states[CAR].items() if k != "online"}  # online: the broker, not the car
    assert reported == bridge.engine.states[CAR]  # the car's latest state, every field
    bridge.tick()
    assert len(saved) == 1  # nothing left over to write twice


class Lease:
    """A sharded bridge's fence, switched by the test: current or past its lease."""

    def __init__(self) -> None:
        self.held = True

    def __call__(self) -> bool:
        return self.held


def _drive_home(fleet: Fleet, clock: Clock) -> None:
    fleet.drive(CAR, [offset(PLACES["home"], 1500, 90), PLACES["home"]], speed_kmh=60)
    for _ in range(120):
        clock.now += 1
        fleet.step(1)


def _configs(broker: FakeBroker) -> int:
    return sum(1 for t, p, _ in broker.log if t.startswith("homeassistant/") and t.endswith("/config") and p)


def test_a_bridge_past_its_lease_acts_on_nothing_until_a_beat_says_the_car_is_still_its() -> None:
    lease = Lease()
    saved: list[dict[str, Any]] = []
    broker, bridge, fleet, clock = setup(leased=lease)
    bridge.sink = lambda traces, pending, states: saved.append(states)
    before = dict(bridge.engine.states[CAR])
    lease.held = False  # a long GC pause or a database out of reach: another bridge may take over
    _drive_home(fleet, clock)
    broker.client().publish(HA_STATUS, "online")
    bridge.tick()
    assert fleet.received == [] and saved == []  # no command, no write, no discovery
    assert _configs(broker) == 10 and bridge.engine.states[CAR] == before  # the drive waits
    lease.held = True  # the next beat: nobody took the car
    assert bridge.replay() > 1  # the drive, in order, then Home Assistant's restart
    assert [c for _, c, _ in fleet.received] == ["turn_on"]
    assert _configs(broker) == 20
    bridge.tick()
    assert saved and CAR in saved[-1]
    assert bridge.replay() == 0


def test_a_car_taken_while_the_bridge_stalled_is_neither_acted_on_nor_saved() -> None:
    lease = Lease()
    saved: list[dict[str, Any]] = []
    _, bridge, fleet, clock = setup(leased=lease)
    bridge.sink = lambda traces, pending, states: saved.append(states)
    fleet.publish(CAR)  # seen before the stall, not saved yet
    lease.held = False
    _drive_home(fleet, clock)
    lease.held = True  # the beat: another bridge holds the owner now (what Runtime.rebalance does)
    with bridge.locked():
        entities, scenes = handover.forget_owners(bridge.engine, {1})
    bridge.forget_unsaved(entities, scenes)
    bridge.replay()
    bridge.tick()
    assert fleet.received == []  # the other bridge acts for the car, not this one
    assert all(CAR not in states for states in saved)  # its older view is not written over the new one

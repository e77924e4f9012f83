"""Scenes hear only their owner's topics, and see a device's location only as precisely as they asked.

Adversarial: a scene saved (before validation existed, or by any path) with a wildcard over every
car's state topic must not fire on another owner's car, and its trace must not hold coordinates
beyond the scene's precision.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from carloop.ecosystem.engine import Engine
from carloop.ecosystem.models import Precision
from carloop.ecosystem.protocol import scene_topic_problem, state_topic
from carloop.ecosystem.rules import Zone, redact_payload
from carloop.ecosystem.schemas import SceneDefinition
from carloop.ecosystem.simulator import PLACES

ME, OTHER = 1, 2
MY_CAR, THEIR_CAR = "vehicle.10", "vehicle.20"
T0 = 1_780_000_000.0
EXACT_FIX = {"ts": T0, "latitude": 31.219612, "longitude": 121.544734, "battery": 50}


def mqtt_scene(topic: str, precision: str = "zone") -> SceneDefinition:
    data: dict[str, Any] = {
        "alias": "Spy",
        "precision": precision,
        "triggers": [{"trigger": "mqtt", "topic": topic}],
        "actions": [{"action": "carloop.notify", "data": {"message": "seen"}}],
    }
    return SceneDefinition.model_validate(data)


def engine_with(definition: SceneDefinition, *, location: bool = True) -> Engine:
    engine = Engine()
    engine.set_zones(ME, [Zone("zone.home", *PLACES["home"], radius_m=150)])
    engine.set_entity(MY_CAR, ME)
    engine.set_entity(THEIR_CAR, OTHER)
    engine.load(1, ME, definition, location=location)
    return engine


def test_wildcard_scene_never_fires_on_another_owners_car() -> None:
    engine = engine_with(mqtt_scene("carloop/v1/+/+/state", precision="exact"))
    assert engine.message(state_topic(THEIR_CAR), json.dumps(EXACT_FIX), T0) == []
    assert engine.message("carloop/v1/owner/2/notify", "{}", T0 + 1) == []
    assert engine.message("zigbee2mqtt/front_door", "{}", T0 + 2) == []
    _, traces, _ = engine.drain()
    assert traces == []


def test_scene_hears_its_own_car_but_its_trace_is_cut_to_the_scene_precision() -> None:
    engine = engine_with(mqtt_scene(state_topic(MY_CAR), precision="zone"))
    assert len(engine.message(state_topic(MY_CAR), json.dumps(EXACT_FIX), T0)) == 1
    _, [trace], _ = engine.drain()
    stored = json.dumps(trace.trigger)
    assert "31.2196" not in stored and "121.5447" not in stored
    assert json.loads(trace.trigger["payload"])["battery"] == 50


def test_km_precision_rounds_the_payload_and_exact_keeps_it() -> None:
    engine = engine_with(mqtt_scene(state_topic(MY_CAR), precision="km"))
    engine.message(state_topic(MY_CAR), json.dumps(EXACT_FIX), T0)
    _, [trace], _ = engine.drain()
    seen = json.loads(trace.trigger["payload"])
    assert (seen["latitude"], seen["longitude"]) == (31.22, 121.54)
    engine = engine_with(mqtt_scene(state_topic(MY_CAR), precision="exact"))
    engine.message(state_topic(MY_CAR), json.dumps(EXACT_FIX), T0)
    _, [trace], _ = engine.drain()
    assert json.loads(trace.trigger["payload"])["latitude"] == EXACT_FIX["latitude"]


def test_revoked_location_access_hides_coordinates_even_at_exact_precision() -> None:
    engine = engine_with(mqtt_scene(state_topic(MY_CAR), precision="exact"), location=False)
    engine.message(state_topic(MY_CAR), json.dumps(EXACT_FIX), T0)
    _, [trace], _ = engine.drain()
    assert "latitude" not in trace.trigger["payload"]


def test_nested_and_text_coordinates_are_cut() -> None:
    body = {
        "gps": {"latitude": 31.2196, "longitude": 121.5447},
        "args": {"latitude": 31.2196, "longitude": 1.0},
    }
    cut = json.loads(redact_payload(json.dumps(body), Precision.ZONE, ["zone.home"]))
    assert cut == {"args": {}, "zones": ["zone.home"]}
    assert redact_payload("31.219612,121.544734", Precision.KM, []) == ""
    assert redact_payload("online", Precision.ZONE, []) == "online"


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("carloop/v1/vehicle/10/state", True),
        ("carloop/v1/vehicle/10/#", True),
        ("carloop/v1/owner/1/#", True),
        ("carloop/v1/owner/1/button/+", True),
        ("carloop/v1/+/+/state", False),
        ("carloop/v1/vehicle/+/state", False),
        ("carloop/v1/#", False),
        ("#", False),
        ("+/+/+/+/state", False),
        ("carloop/v1/vehicle/20/state", False),
        ("carloop/v1/owner/2/notify", False),
        ("carloop/v1/bridge/status", False),
        ("homeassistant/#", False),
        ("$SYS/#", False),
        ("carloop/v1/vehicle/10/sta#", False),
    ],
)
def test_scene_topics_are_limited_to_the_owners_devices_and_space(topic: str, allowed: bool) -> None:
    problem = scene_topic_problem(topic, owner_id=ME, entities={MY_CAR, "light.11"})
    assert (problem is None) is allowed, problem

"""Against the real broker (Mosquitto): the delivered car drives home, devices switch on, and the car's
Home Assistant discovery payloads are retained, valid and re-published when Home Assistant restarts."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import jinja2
import pytest
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.ecosystem import activity, service
from carloop.ecosystem import scenes as scene_service
from carloop.ecosystem.api_schemas import HomeCreate
from carloop.ecosystem.discovery import vehicle_configs
from carloop.ecosystem.models import Device, DeviceKind, DeviceStatus, Precision
from carloop.ecosystem.mqtt import PahoClient
from carloop.ecosystem.protocol import (
    HA_STATUS,
    availability_topic,
    ha_command_topic,
    ha_location_topic,
    ha_state_topic,
    state_topic,
)
from carloop.ecosystem.runtime import Runtime
from carloop.ecosystem.simulator import PLACES, offset

REQUIRED = {  # keys Home Assistant's MQTT platforms refuse to load without, plus what we promise
    "device_tracker": {"state_topic", "json_attributes_topic", "source_type"},
    "sensor": {"state_topic", "value_template"},
    "binary_sensor": {"state_topic", "value_template", "device_class"},
    "lock": {"state_topic", "command_topic", "payload_lock", "payload_unlock"},
    "climate": {"modes", "mode_command_topic", "temperature_command_topic", "current_temperature_topic"},
    "text": {"command_topic"},
}


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


@pytest.fixture
def world(session_factory: sessionmaker[Session], mqtt_url: str) -> Iterator[tuple[Runtime, dict[str, Any]]]:
    """An owner whose devices have random ids (tests share the broker), a coming-home scene, a runtime."""
    base = random.randrange(10_000_000, 2_000_000_000)
    with session_factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone="13700137000")
        service.create_home(
            session=session,
            customer_id=customer.id,
            data=HomeCreate(name="Home", latitude=PLACES["home"][0], longitude=PLACES["home"][1]),
        )
        devices = {}
        for offset_id, kind, name in (
            (0, DeviceKind.VEHICLE, "My car"),
            (1, DeviceKind.LIGHT, "Hall light"),
            (2, DeviceKind.CLIMATE, "Living room AC"),
        ):
            device = Device(
                id=base + offset_id,
                customer_id=customer.id,
                kind=kind,
                name=name,
                status=DeviceStatus.PAIRED,
                state={"model": "su7"} if offset_id == 0 else {},
            )
            session.add(device)
            session.flush()
            devices[kind.value] = device.entity_id
        scene = scene_service.add_preset(session=session, customer_id=customer.id, name="coming_home")
        scene_service.set_enabled(session=session, customer_id=customer.id, scene_id=scene.id, enabled=True)
        ids = {
            "customer_id": customer.id,
            "scene_id": scene.id,
            "car_id": base,
            "light_id": base + 1,
            **devices,
        }
    runtime = Runtime(session_factory, mqtt_url, simulate=True, reload_interval=0.2, tick_interval=0.1)
    runtime.start()
    try:
        yield runtime, ids
    finally:
        runtime.stop()
        _clear_retained(mqtt_url, [devices[k] for k in ("vehicle", "light", "climate")])


def _clear_retained(url: str, entities: list[str]) -> None:
    """Leave the shared broker as we found it: empty retained payloads delete retained messages."""
    client = PahoClient(url)
    client.connect()
    for entity in entities:
        topics = [state_topic(entity), availability_topic(entity), ha_state_topic(entity)]
        topics += [ha_location_topic(entity)] if entity.startswith("vehicle.") else []
        topics += list(vehicle_configs(entity, name="x")) if entity.startswith("vehicle.") else []
        for topic in topics:
            client.publish(topic, b"", qos=1, retain=True)
    time.sleep(0.2)
    client.disconnect()


def test_car_driving_home_switches_devices_on_and_leaves_a_trace(
    session_factory: sessionmaker[Session], world: tuple[Runtime, dict[str, Any]]
) -> None:
    runtime, ids = world
    fleet = runtime.fleet
    assert fleet is not None
    car = ids["vehicle"]
    wait_for(lambda: car in fleet.cars)
    fleet.drive(car, [offset(PLACES["home"], 800, 90), PLACES["home"]], speed_kmh=120)
    for _ in range(40):
        fleet.step(1)  # virtual seconds, published as fast as the broker takes them
        time.sleep(0.02)
    wait_for(
        lambda: fleet.devices[ids["light"]].state == "on" and fleet.devices[ids["climate"]].state == "on"
    )

    def stored() -> bool:
        with session_factory() as session:
            light = session.get(Device, ids["light_id"])
            traces = activity.list_traces(
                session=session, customer_id=ids["customer_id"], scene_id=ids["scene_id"]
            )
            return light is not None and light.state.get("state") == "on" and bool(traces)

    wait_for(stored)
    with session_factory() as session:
        [trace] = activity.list_traces(
            session=session, customer_id=ids["customer_id"], scene_id=ids["scene_id"]
        )
    assert trace.outcome == "finished" and trace.trigger["event"] == "enter"
    assert "latitude" not in json.dumps(trace.trigger)  # the preset asks for zone precision only


def _collect(url: str, pattern: str) -> tuple[PahoClient, dict[str, list[bytes]]]:
    seen: dict[str, list[bytes]] = {}
    lock = threading.Lock()

    def on(topic: str, payload: bytes) -> None:
        with lock:
            seen.setdefault(topic, []).append(payload)

    client = PahoClient(url)
    client.connect()
    client.subscribe(pattern, on)
    return client, seen


def test_car_appears_in_home_assistant_with_valid_discovery(
    session_factory: sessionmaker[Session], world: tuple[Runtime, dict[str, Any]], mqtt_url: str
) -> None:
    runtime, ids = world
    car = ids["vehicle"]
    node = car.replace(".", "_")
    ha, configs = _collect(mqtt_url, f"homeassistant/+/{node}/+/config")
    try:
        wait_for(lambda: len([t for t, v in configs.items() if v[-1]]) == 10)
        payloads = {topic: json.loads(values[-1]) for topic, values in configs.items() if values[-1]}
        unique_ids = [p["unique_id"] for p in payloads.values()]
        assert len(set(unique_ids)) == 10
        components = sorted(topic.split("/")[1] for topic in payloads)
        assert components == [
            "binary_sensor",
            "binary_sensor",
            "climate",
            "device_tracker",
            "lock",
            "sensor",
            "sensor",
            "sensor",
            "sensor",
            "text",
        ]
        for topic, config in payloads.items():
            component = topic.split("/")[1]
            assert REQUIRED[component] <= set(config), (topic, REQUIRED[component] - set(config))
            assert config["device"]["identifiers"] == [f"carloop_{node}"]
            assert config["origin"]["name"] == "carloop"
            assert next(a["topic"] for a in config["availability"]).endswith(
                f"/{car.split('.')[1]}/availability"
            )

        # the state those templates read, rendered the way Home Assistant renders them
        fleet = runtime.fleet
        assert fleet is not None
        wait_for(lambda: car in fleet.cars)
        fleet.cars[car].position = PLACES["home"]
        fleet.publish(car)
        watcher, states = _collect(mqtt_url, ha_state_topic(car))
        try:
            state = json.loads(wait_for(lambda: states.get(ha_state_topic(car)))[-1])
        finally:
            watcher.disconnect()
        env = jinja2.Environment(autoescape=False)
        env.filters["tojson"] = json.dumps
        rendered = {
            topic.split("/")[3]: env.from_string(config["value_template"]).render(value_json=state, value="")
            for topic, config in payloads.items()
            if "value_template" in config
        }
        assert rendered["zone"] == "home"
        assert payloads[f"homeassistant/device_tracker/{node}/location/config"]["state_topic"] == (
            ha_location_topic(car)
        )
        assert rendered["destination"] == "None"  # no destination: Home Assistant shows unknown
        assert float(rendered["battery"]) == pytest.approx(80, abs=1)
        assert rendered["charging"] in ("ON", "OFF") and rendered["doors"] in ("ON", "OFF")
        assert rendered["lock"] in ("LOCKED", "UNLOCKED")
        assert state["attributes"] == {"zones": ["home"]}  # zone precision: "home", not coordinates

        # Home Assistant restarts: the bridge publishes every config again
        before = sum(len(v) for v in configs.values())
        ha.publish(HA_STATUS, "online")
        wait_for(lambda: sum(len(v) for v in configs.values()) >= before + 10)

        # a command from Home Assistant's lock entity reaches the car through the bridge
        fleet.cars[car].locked = False
        ha.publish(ha_command_topic(car), json.dumps({"command": "lock"}))
        wait_for(lambda: fleet.cars[car].locked)
    finally:
        ha.disconnect()


def test_owner_sharing_exact_location_reaches_home_assistant(
    session_factory: sessionmaker[Session], world: tuple[Runtime, dict[str, Any]], mqtt_url: str
) -> None:
    runtime, ids = world
    car = ids["vehicle"]
    with session_factory.begin() as session:
        service.set_share_precision(
            session=session,
            customer_id=ids["customer_id"],
            device_id=ids["car_id"],
            precision=Precision.EXACT,
        )
    wait_for(lambda: runtime.bridge is not None and runtime.bridge.vehicles[car].share is Precision.EXACT)
    fleet = runtime.fleet
    assert fleet is not None
    watcher, states = _collect(mqtt_url, ha_state_topic(car))
    try:
        fleet.publish(car)
        wait_for(
            lambda: any(
                "latitude" in json.loads(p)["attributes"] for p in states.get(ha_state_topic(car), [])
            )
        )
    finally:
        watcher.disconnect()


def test_destination_sent_from_the_phone_reaches_the_car(world: tuple[Runtime, dict[str, Any]]) -> None:
    runtime, ids = world
    fleet = runtime.fleet
    assert fleet is not None
    car = ids["vehicle"]
    wait_for(lambda: car in fleet.cars)
    runtime.send(
        car,
        "navigate",
        {"latitude": 31.2304, "longitude": 121.4737, "name": "People's Square"},
        source="owner",
    )
    wait_for(lambda: fleet.cars[car].destination is not None)
    assert fleet.cars[car].destination == {
        "latitude": 31.2304,
        "longitude": 121.4737,
        "name": "People's Square",
    }

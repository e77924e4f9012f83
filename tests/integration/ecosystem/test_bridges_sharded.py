"""Two bridges over the real broker, each serving its share of the cars; one stops and hands over.

Every car's "coming home" scene fires exactly once, at the bridge whose partitions hold its owner. When a
bridge stops, the other takes its partitions and loads the cars as they were left: a car already home
does not "arrive" again, and the next arrival fires once, not twice."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.ecosystem import scenes as scene_service
from carloop.ecosystem import service
from carloop.ecosystem.api_schemas import DeviceCreate, HomeCreate
from carloop.ecosystem.membership import Shares
from carloop.ecosystem.models import Device, DeviceKind, DeviceStatus
from carloop.ecosystem.mqtt import PahoClient
from carloop.ecosystem.protocol import ROOT, entity_of, state_topic
from carloop.ecosystem.runtime import Runtime
from carloop.ecosystem.simulator import offset

OWNERS = 12
PARTITIONS = 32
HOME = (31.2196, 121.5447)


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _device_ids_of_our_own(session: Session, customer_id: int) -> None:
    """Start device ids at a random number: tests on other databases share the broker's topics."""
    start = random.randrange(10_000_000, 2_000_000_000)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT setval(pg_get_serial_sequence('eco_device', 'id'), :n)"), {"n": start})
    else:  # SQLite hands out max(id) + 1: park a revoked placeholder at the start
        session.add(
            Device(
                id=start,
                customer_id=customer_id,
                kind=DeviceKind.PHONE,
                name="-",
                status=DeviceStatus.REVOKED,
            )
        )
        session.flush()


def _home(i: int) -> tuple[float, float]:
    return HOME[0] + (i % 4) * 0.02, HOME[1] + (i // 4) * 0.02  # ~2 km apart: zones never overlap


@pytest.fixture
def fleet(session_factory: sessionmaker[Session]) -> dict[str, tuple[int, str, tuple[float, float]]]:
    """OWNERS owners, each with a home, a car last seen 1 km away and a light, "coming home" enabled;
    car entity id -> (owner id, light entity id, home)."""
    cars: dict[str, tuple[int, str, tuple[float, float]]] = {}
    with session_factory.begin() as session:
        for i in range(OWNERS):
            customer = accounts.get_or_create_customer(session=session, phone=f"1390013{i:04d}")
            if i == 0:
                _device_ids_of_our_own(session, customer.id)
            home = _home(i)
            created = service.create_home(
                session=session,
                customer_id=customer.id,
                data=HomeCreate(name="Home", latitude=home[0], longitude=home[1]),
            )
            car = service.link_vehicle(
                session=session,
                customer_id=customer.id,
                order_id=random.randrange(10**12),
                vin=f"LSHARD{random.randrange(10**11):011d}",
                model="su7",
                trim="pro",
            )
            away = offset(home, 1000.0, 90.0)
            car.state = {**car.state, "latitude": away[0], "longitude": away[1]}
            _, code = service.add_device(
                session=session,
                customer_id=customer.id,
                data=DeviceCreate(kind=DeviceKind.LIGHT, name="Hall light", home_id=created.id),
            )
            light = service.pair(session=session, customer_id=customer.id, code=code)
            scene = scene_service.add_preset(session=session, customer_id=customer.id, name="coming_home")
            scene_service.set_enabled(
                session=session, customer_id=customer.id, scene_id=scene.id, enabled=True
            )
            cars[car.entity_id] = (customer.id, light.entity_id, home)
    return cars


class Lights:
    """The lights' side of the broker: every command each of our lights received."""

    def __init__(self, url: str, lights: set[str]) -> None:
        self.lights, self.received = lights, Counter[str]()
        self._lock = threading.Lock()
        self.client = PahoClient(url, client_id=f"carloop-test-lights-{random.randrange(10**9)}")
        self.client.connect()
        assert self.client.subscribe_confirmed(f"{ROOT}/light/+/command", self._on_command, qos=1)

    def _on_command(self, topic: str, payload: bytes) -> None:
        entity = entity_of(topic)
        if entity in self.lights and json.loads(payload)["command"] == "turn_on":
            with self._lock:
                self.received[entity] += 1

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self.received)


@pytest.fixture
def lights(fleet: dict[str, tuple[int, str, tuple[float, float]]], mqtt_url: str) -> Iterator[Lights]:
    """Our lights' side of the broker, listening before any bridge acts."""
    listening = Lights(mqtt_url, {light for _, light, _ in fleet.values()})
    try:
        yield listening
    finally:
        listening.client.disconnect()


def _bridge(factory: sessionmaker[Session], url: str, name: str) -> Runtime:
    shares = Shares(factory, member=name, lease=timedelta(seconds=3), partitions=PARTITIONS)
    return Runtime(factory, url, simulate=False, reload_interval=0.2, tick_interval=0.1, shares=shares)


@pytest.fixture
def bridges(session_factory: sessionmaker[Session], mqtt_url: str) -> Iterator[list[Runtime]]:
    tag = random.randrange(10**9)  # member names of our own: other tests' databases are elsewhere
    started: list[Runtime] = []
    try:
        for name in (f"bridge-a-{tag}", f"bridge-b-{tag}"):
            runtime = _bridge(session_factory, mqtt_url, name)
            runtime.start()
            started.append(runtime)
        yield started
    finally:
        for runtime in started:
            runtime.stop()


def _retain_drive(
    url: str, cars: dict[str, tuple[int, str, tuple[float, float]]], where: Callable[[Any], Any]
) -> None:
    client = PahoClient(url, client_id=f"carloop-test-cars-{random.randrange(10**9)}")
    client.connect()
    try:
        for car, (_, _, home) in cars.items():
            lat, lon = where(home)
            body = json.dumps({"latitude": lat, "longitude": lon, "accuracy": 5, "ts": time.time()})
            client.publish(state_topic(car), body, qos=1, retain=True)
        time.sleep(0.3)
    finally:
        client.disconnect()


def _served(runtime: Runtime) -> frozenset[str]:
    assert runtime.bridge is not None
    return frozenset(e for e in runtime.bridge.followed() if e.startswith("vehicle."))


def _settle(a: Runtime, b: Runtime, cars: set[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Wait until each bridge holds exactly its share and the two serve every car, none twice; the
    cars each serves."""
    wait_for(lambda: a.shares and b.shares and a.shares.settled() and b.shares.settled())
    wait_for(lambda: _served(a) | _served(b) >= cars)
    assert not (_served(a) & _served(b)), "a car served by both bridges"
    share_a, share_b = _served(a) & cars, _served(b) & cars
    assert share_a and share_b, (share_a, share_b)  # both serve some of the owners
    return share_a, share_b


class Retained:
    """The latest message on each topic under some filters, as Home Assistant would see them."""

    def __init__(self, url: str, *filters: str) -> None:
        self.latest: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.client = PahoClient(url, client_id=f"carloop-test-watch-{random.randrange(10**9)}")
        self.client.connect()
        for pattern in filters:
            assert self.client.subscribe_confirmed(pattern, self._on_message, qos=1)

    def _on_message(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.latest[topic] = payload

    def get(self, topic: str) -> bytes | None:
        with self._lock:
            return self.latest.get(topic)

    def availability_of(self, car: str) -> set[str]:
        """The bridge status topics the car's retained discovery configs name."""
        node = car.replace(".", "_")
        with self._lock:
            configs = [json.loads(p) for t, p in self.latest.items() if t.split("/")[2:3] == [node] and p]
        return {a["topic"] for c in configs for a in c.get("availability", []) if "/bridge/" in a["topic"]}


def test_every_car_is_served_once_and_a_stopped_bridge_hands_over(
    bridges: list[Runtime],
    fleet: dict[str, tuple[int, str, tuple[float, float]]],
    mqtt_url: str,
    lights: Lights,
) -> None:
    a, b = bridges
    cars = set(fleet)
    share_a, _ = _settle(a, b, cars)

    # every car arrives home: one command per light, from the bridge serving it
    _retain_drive(mqtt_url, fleet, lambda home: home)
    wait_for(lambda: len(lights.counts()) == len(cars))
    time.sleep(0.5)  # a duplicate would arrive by now
    assert set(lights.counts().values()) == {1}

    # a's cars drive away while a serves them (a saves where they are)
    moved = {car: fleet[car] for car in share_a}
    _retain_drive(mqtt_url, moved, lambda home: offset(home, 1000.0, 90.0))
    time.sleep(0.5)

    # bridge a stops, and its cars come home at once: b takes a's partitions, loads the cars where a
    # left them (away), and the arrival fires once, at b; a car already home does not arrive again
    a.stop()
    bridges.remove(a)
    _retain_drive(mqtt_url, moved, lambda home: home)
    assert b.shares is not None
    wait_for(lambda: b.shares.held == frozenset(range(PARTITIONS)))
    wait_for(lambda: _served(b) >= cars)
    again = {fleet[car][1] for car in share_a}
    wait_for(lambda: all(lights.counts()[light] == 2 for light in again))
    time.sleep(0.5)  # a duplicate, or a stay-at-home car "arriving" again, would be here by now
    counts = lights.counts()
    assert all(counts[fleet[car][1]] == (2 if car in share_a else 1) for car in cars), counts


def _die(runtime: Runtime) -> None:
    """The process is gone: no more beats, ticks or messages, nothing released, nothing saved, and its
    connection drops without a DISCONNECT, so the broker publishes its last will."""
    assert runtime.bridge is not None and runtime._thread is not None and runtime.bridge._thread is not None
    runtime._stop.set()
    runtime.bridge._stop.set()
    runtime._thread.join(5)
    runtime.bridge._thread.join(5)
    client = runtime.bridge.client
    assert isinstance(client, PahoClient)
    client._client.loop_stop()  # no network thread left to reconnect
    sock = client._client.socket()
    assert sock is not None
    sock.close()


def test_a_dead_bridges_cars_are_served_again_after_its_lease(
    bridges: list[Runtime],
    fleet: dict[str, tuple[int, str, tuple[float, float]]],
    mqtt_url: str,
    lights: Lights,
) -> None:
    a, b = bridges
    cars = set(fleet)
    # only our cars' configs: a shared broker may keep thousands of other cars' (a benchmark's, say)
    configs = [f"homeassistant/+/{car.replace('.', '_')}/+/config" for car in fleet]
    seen = Retained(mqtt_url, f"{ROOT}/bridge/+/status", *configs)
    try:
        share_a, share_b = _settle(a, b, cars)
        assert a.shares is not None and b.shares is not None and a.bridge and b.bridge
        status_a, status_b = a.bridge.status_topic, b.bridge.status_topic
        wait_for(lambda: seen.get(status_a) == b"online" and seen.get(status_b) == b"online")
        wait_for(lambda: all(seen.availability_of(car) == {status_a} for car in share_a))
        wait_for(lambda: all(seen.availability_of(car) == {status_b} for car in share_b))
        dead = a.shares.held
        time.sleep(0.3)  # a has saved where its cars were (1 km from home) by now
        _die(a)
        bridges.remove(a)
        wait_for(lambda: seen.get(status_a) == b"offline")  # the broker's will: a's cars unavailable
        assert seen.get(status_b) == b"online"  # b's cars stay available
        _retain_drive(mqtt_url, {car: fleet[car] for car in share_a}, lambda home: home)
        wait_for(lambda: b.shares.held >= dead)  # after a's lease (3 s) lapsed
        wait_for(lambda: all(lights.counts()[fleet[car][1]] >= 1 for car in share_a))
        # the taking bridge names its own status in a's cars' configs: available again in Home Assistant
        wait_for(lambda: all(seen.availability_of(car) == {status_b} for car in cars))
        time.sleep(0.5)
        counts = lights.counts()
        assert all(counts[fleet[car][1]] == (1 if car in share_a else 0) for car in cars), counts
    finally:
        seen.client.disconnect()


def _pause_beats(runtime: Runtime) -> None:
    """Only the beat stalls (a long GC pause in that thread, a database out of reach): the bridge's
    MQTT connection and ticker run on, and would act for cars it no longer holds but for the fence."""
    assert runtime._thread is not None
    runtime._stop.set()
    runtime._thread.join(5)


def _resume_beats(runtime: Runtime) -> None:
    runtime._stop.clear()
    runtime._thread = threading.Thread(target=runtime._poll, name="carloop-eco-reload", daemon=True)
    runtime._thread.start()


def test_a_bridge_stalled_past_its_lease_does_not_act_for_cars_taken_meanwhile(
    bridges: list[Runtime],
    fleet: dict[str, tuple[int, str, tuple[float, float]]],
    mqtt_url: str,
    lights: Lights,
) -> None:
    a, b = bridges
    cars = set(fleet)
    share_a, _ = _settle(a, b, cars)
    assert a.shares is not None and b.shares is not None and a.bridge is not None
    held_by_a = a.shares.held
    time.sleep(0.3)  # a has saved where its cars were (1 km from home) by now
    _pause_beats(a)
    wait_for(lambda: not a.bridge.current())  # a's own clock says stop: 80 % of its 3 s lease
    wait_for(lambda: b.shares.held >= held_by_a)  # a's lease lapsed: b took its partitions
    wait_for(lambda: _served(b) >= cars)
    sent_by_a = a.bridge.commands_sent
    assert a.bridge.followed() >= share_a  # a still receives its old cars' messages...

    _retain_drive(mqtt_url, {car: fleet[car] for car in share_a}, lambda home: home)
    wait_for(lambda: all(lights.counts()[fleet[car][1]] >= 1 for car in share_a))
    _resume_beats(a)  # a's beat: its partitions are b's, what it held back is replayed and ignored
    wait_for(lambda: not (a.bridge.followed() & share_a) or a.shares.held & held_by_a)
    wait_for(lambda: a.shares.settled() and b.shares.settled())  # a rejoined; b handed back a's share
    wait_for(lambda: _served(a) | _served(b) >= cars and not (_served(a) & _served(b)))
    time.sleep(0.5)  # a duplicate from a, or a re-arrival after the hand-back, would be here by now
    assert a.bridge.commands_sent == sent_by_a  # ...but acted on none of them
    counts = lights.counts()
    assert all(counts[fleet[car][1]] == (1 if car in share_a else 0) for car in cars), counts

"""A car (and home-device) simulator: drives routes between real Shanghai coordinates, obeys commands."""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from carloop.ecosystem.mqtt import MqttClient
from carloop.ecosystem.protocol import (
    OFFLINE,
    ONLINE,
    availability_topic,
    command_topic,
    is_expired,
    parse_command,
    state_topic,
)
from carloop.ecosystem.rules import distance_m

Point = tuple[float, float]

# Real places (WGS-84) in Shanghai; routes follow main roads through a few waypoints.
PLACES: dict[str, Point] = {
    "home": (31.2196, 121.5447),  # a flat by Century Park, Pudong
    "office": (31.2397, 121.4998),  # Lujiazui
    "people_square": (31.2304, 121.4737),
    "hongqiao": (31.1945, 121.3208),  # Hongqiao railway station
    "delivery_centre": (31.2756, 121.6105),  # Jinqiao
}
ROUTES: dict[str, list[Point]] = {
    "office-home": [PLACES["office"], (31.2330, 121.5166), (31.2262, 121.5322), PLACES["home"]],
    "home-office": [PLACES["home"], (31.2262, 121.5322), (31.2330, 121.5166), PLACES["office"]],
    "delivery-home": [PLACES["delivery_centre"], (31.2541, 121.5795), (31.2310, 121.5580), PLACES["home"]],
    "hongqiao-people_square": [
        PLACES["hongqiao"],
        (31.2016, 121.3897),
        (31.2214, 121.4457),
        PLACES["people_square"],
    ],
}


def offset(point: Point, metres: float, bearing_deg: float) -> Point:
    """The point ``metres`` away from ``point`` towards ``bearing_deg`` (small distances)."""
    dlat = metres * math.cos(math.radians(bearing_deg)) / 111_320.0
    dlon = metres * math.sin(math.radians(bearing_deg)) / (111_320.0 * math.cos(math.radians(point[0])))
    return point[0] + dlat, point[1] + dlon


def bearing(a: Point, b: Point) -> float:
    """Initial bearing from a to b in degrees."""
    la1, la2 = math.radians(a[0]), math.radians(b[0])
    dl = math.radians(b[1] - a[1])
    x = math.sin(dl) * math.cos(la2)
    y = math.cos(la1) * math.sin(la2) - math.sin(la1) * math.cos(la2) * math.cos(dl)
    return (math.degrees(math.atan2(x, y)) + 360) % 360


@dataclass
class SimCar:
    """One simulated car: position along a path, battery, locks, climate, navigation."""

    position: Point = PLACES["home"]
    speed_kmh: float = 0.0
    cruise_kmh: float = 50.0
    battery: float = 80.0
    charging: bool = False
    locked: bool = True
    doors_open: bool = False
    cabin_temp: float = 30.0
    climate: str = "off"
    target_temp: float = 22.0
    destination: dict[str, Any] | None = None
    jitter_m: float = 0.0
    seq: int = 0
    path: list[Point] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(7))  # noqa: S311 - simulation noise

    def drive(self, route: Sequence[Point], *, speed_kmh: float | None = None) -> None:
        """Start driving along ``route`` from its first point."""
        self.position = route[0]
        self.path = list(route[1:])
        self.cruise_kmh = speed_kmh or self.cruise_kmh
        self.locked, self.doors_open = False, False

    @property
    def moving(self) -> bool:
        """Whether the car still has road ahead."""
        return bool(self.path)

    def step(self, dt: float) -> None:
        """Advance ``dt`` seconds: move, use or gain charge, warm or cool the cabin."""
        remaining = self.cruise_kmh / 3.6 * dt if self.path else 0.0
        self.speed_kmh = self.cruise_kmh if self.path else 0.0
        while remaining > 0 and self.path:
            target = self.path[0]
            gap = distance_m(*self.position, *target)
            if gap <= remaining:
                self.position, remaining = target, remaining - gap
                self.path.pop(0)
            else:
                self.position, remaining = (
                    offset(self.position, remaining, bearing(self.position, target)),
                    0.0,
                )
        if not self.path:
            self.speed_kmh = 0.0
        self.battery = max(
            0.0, min(100.0, self.battery + (0.02 if self.charging else -0.004 * self.speed_kmh / 50) * dt)
        )
        goal = self.target_temp if self.climate != "off" else 30.0
        self.cabin_temp += (goal - self.cabin_temp) * min(1.0, 0.02 * dt)

    def telemetry(self, now: float) -> dict[str, Any]:
        """The state message the car publishes."""
        self.seq += 1
        lat, lon = self.position
        if self.jitter_m:
            lat, lon = offset((lat, lon), self.rng.uniform(0, self.jitter_m), self.rng.uniform(0, 360))
        return {
            "ts": now,
            "seq": self.seq,
            "latitude": round(lat, 6),
            "longitude": round(lon, 6),
            "accuracy": max(5.0, self.jitter_m),
            "speed": round(self.speed_kmh, 1),
            "battery": round(self.battery, 1),
            "range_km": round(self.battery * 5.2),
            "charging": self.charging,
            "locked": self.locked,
            "doors_open": self.doors_open,
            "cabin_temp": round(self.cabin_temp, 1),
            "climate": self.climate,
            "target_temp": self.target_temp,
            "destination": self.destination,
        }

    def apply(self, command: str, args: dict[str, Any]) -> bool:
        """Obey a command; False if the car does not know it."""
        if command == "lock":
            self.locked = True
        elif command == "unlock":
            self.locked = False
        elif command == "set_climate":
            if "temperature" in args:
                self.target_temp = float(args["temperature"])
                self.climate = "auto" if self.climate == "off" else self.climate
            if "mode" in args:
                self.climate = str(args["mode"])
        elif command == "navigate":
            self.destination = {
                "latitude": float(args["latitude"]),
                "longitude": float(args["longitude"]),
                "name": str(args.get("name", "")),
            }
        elif command == "drive_to_destination" and self.destination:
            self.drive([self.position, (self.destination["latitude"], self.destination["longitude"])])
        elif command in ("start_charging", "stop_charging"):
            self.charging = command == "start_charging"
        else:
            return False
        return True


ON_OFF = {
    "turn_on": "on",
    "turn_off": "off",
    "open": "open",
    "close": "closed",
    "lock": "locked",
    "unlock": "unlocked",
}


@dataclass
class SimDevice:
    """A simulated home device (air conditioner, light, lock ...) that obeys commands."""

    kind: str
    state: str = "off"
    attributes: dict[str, Any] = field(default_factory=dict)

    def apply(self, command: str, args: dict[str, Any]) -> bool:
        """Obey a command; False if unknown."""
        if command in ON_OFF:
            self.state = ON_OFF[command]
            self.attributes.update(args)
            return True
        if command == "set_temperature":
            self.attributes["temperature"] = args.get("temperature")
            self.state = "on"
            return True
        return False

    def report(self, now: float) -> dict[str, Any]:
        """The state message the device publishes."""
        return {"ts": now, "state": self.state, **self.attributes}


def record_drive(
    entity_id: str,
    route: Sequence[Point],
    *,
    start: float,
    speed_kmh: float = 40.0,
    jitter_m: float = 0.0,
    every_s: float = 1.0,
    tail_s: float = 60.0,
) -> list[dict[str, Any]]:
    """A recorded drive (GPS track plus states) for dry runs: one sample every ``every_s`` seconds."""
    car = SimCar(jitter_m=jitter_m)
    car.drive(route, speed_kmh=speed_kmh)
    samples: list[dict[str, Any]] = []
    now, idle = start, 0.0
    while idle <= tail_s:
        samples.append({"t": now, "entity_id": entity_id, "state": car.telemetry(now)})
        car.step(every_s)
        now += every_s
        if not car.moving:
            idle += every_s
    return samples


# (entity id, last will) -> a connected client of its own, so the broker says ``offline`` for it
Connect = Callable[[str, tuple[str, str]], MqttClient]


class Fleet:
    """Simulated cars and devices: publish telemetry, obey their command topics, say when they go.

    With ``connect`` every device has its own MQTT connection whose last will is its ``offline``
    (a killed simulator makes each of its devices unavailable within the broker's keep-alive);
    without it all share ``client`` (benchmarks). ``stop()`` publishes ``offline`` for each device.
    """

    def __init__(
        self,
        client: MqttClient | None = None,
        *,
        clock: Callable[[], float] = time.time,
        connect: Connect | None = None,
    ) -> None:
        if client is None and connect is None:
            raise ValueError("a fleet needs a client or a way to connect its devices")
        self.client, self.clock, self.connect = client, clock, connect
        self.clients: dict[str, MqttClient] = {}
        self.cars: dict[str, SimCar] = {}
        self.devices: dict[str, SimDevice] = {}
        self.received: list[tuple[str, str, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_car(self, entity_id: str, car: SimCar) -> None:
        """Simulate a car under ``entity_id`` (publishing where it is now: set ``car.position`` or
        call ``car.drive`` first, so the first position is the right one)."""
        with self._lock:
            self.cars[entity_id] = car
        self._join(entity_id)
        self.publish(entity_id)

    def add_device(self, entity_id: str, device: SimDevice) -> None:
        """Simulate a home device under ``entity_id``."""
        with self._lock:
            self.devices[entity_id] = device
        self._join(entity_id)
        self.publish(entity_id)

    def _client(self, entity_id: str) -> MqttClient:
        client = self.clients.get(entity_id) or self.client
        assert client is not None
        return client

    def _join(self, entity_id: str) -> None:
        if self.connect is not None and entity_id not in self.clients:
            self.clients[entity_id] = self.connect(entity_id, (availability_topic(entity_id), OFFLINE))
        client = self._client(entity_id)
        client.publish(availability_topic(entity_id), ONLINE, qos=1, retain=True)
        client.subscribe(command_topic(entity_id), self._on_command, qos=1)

    def _on_command(self, topic: str, payload: bytes) -> None:
        entity_id = ".".join(topic.split("/")[2:4])
        try:
            command = parse_command(payload)
        except ValueError:
            return
        now = self.clock()
        if is_expired(command, now):
            return
        with self._lock:
            target: SimCar | SimDevice | None = self.cars.get(entity_id) or self.devices.get(entity_id)
            if target is None or not target.apply(command.command, command.args):
                return
            self.received.append((entity_id, command.command, now))
        self.publish(entity_id)

    def publish(self, entity_id: str) -> None:
        """Publish one device's current state (retained)."""
        now = self.clock()
        with self._lock:
            car = self.cars.get(entity_id)
            body = car.telemetry(now) if car is not None else self.devices[entity_id].report(now)
        self._client(entity_id).publish(state_topic(entity_id), json.dumps(body), qos=0, retain=True)

    def step(self, dt: float) -> None:
        """Move every car ``dt`` seconds and publish the moving ones."""
        with self._lock:
            moving = [e for e, c in self.cars.items() if c.moving or c.speed_kmh]
            for car in self.cars.values():
                car.step(dt)
        for entity_id in moving:
            self.publish(entity_id)

    def drive(self, entity_id: str, route: Sequence[Point], *, speed_kmh: float) -> None:
        """Send a simulated car along a route."""
        with self._lock:
            self.cars[entity_id].drive(route, speed_kmh=speed_kmh)

    def start(self, interval: float = 1.0) -> None:
        """Step and publish in a background thread every ``interval`` seconds."""

        def run() -> None:
            while not self._stop.wait(interval):
                self.step(interval)

        self._thread = threading.Thread(target=run, name="carloop-fleet", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread, say ``offline`` for every device and close their connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            entity_ids = [*self.cars, *self.devices]
        for entity_id in entity_ids:
            self._client(entity_id).publish(availability_topic(entity_id), OFFLINE, qos=1, retain=True)
        for client in self.clients.values():
            client.disconnect()
        self.clients.clear()

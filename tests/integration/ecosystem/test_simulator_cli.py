"""``carloop simulate car`` against the real broker: one drive is one arrival, and a stop says offline."""

from __future__ import annotations

import json
import random
import threading
import time

from typer.testing import CliRunner

from carloop.cli.main import app
from carloop.ecosystem.mqtt import PahoClient
from carloop.ecosystem.protocol import availability_topic, state_topic
from carloop.ecosystem.rules import distance_m
from carloop.ecosystem.simulator import PLACES


def test_simulated_car_starts_where_its_route_starts_and_says_offline_when_it_stops(mqtt_url: str) -> None:
    vehicle = f"vehicle.{random.randrange(10_000_000, 2_000_000_000)}"
    seen: dict[str, list[bytes]] = {}
    lock = threading.Lock()

    def on(topic: str, payload: bytes) -> None:
        with lock:
            seen.setdefault(topic, []).append(payload)

    watcher = PahoClient(mqtt_url)
    watcher.connect()
    watcher.subscribe(f"carloop/v1/{vehicle.replace('.', '/')}/+", on, qos=1)
    try:
        result = CliRunner().invoke(
            app,
            [
                *("simulate", "car", "--mqtt-url", mqtt_url, "--vehicle", vehicle),
                *("--route", "office-home", "--seconds", "2", "--jitter", "0", "--keepalive", "5"),
            ],
        )
        assert result.exit_code == 0, result.output
        deadline = time.monotonic() + 10
        while seen.get(availability_topic(vehicle), [b""])[-1] != b"offline" and time.monotonic() < deadline:
            time.sleep(0.05)
        states = [json.loads(p) for p in seen[state_topic(vehicle)] if p]
        first = states[0]
        assert distance_m(first["latitude"], first["longitude"], *PLACES["office"]) < 1
        assert all(distance_m(s["latitude"], s["longitude"], *PLACES["home"]) > 1000 for s in states)
        assert seen[availability_topic(vehicle)][0] == b"online"
        assert seen[availability_topic(vehicle)][-1] == b"offline"
    finally:
        watcher.disconnect()
        cleaner = PahoClient(mqtt_url)
        cleaner.connect()
        for topic in (state_topic(vehicle), availability_topic(vehicle)):
            cleaner.publish(topic, b"", qos=1, retain=True)
        cleaner.disconnect()

"""The scenes benchmark end to end at a tiny size, through the real broker."""

from __future__ import annotations

import json
import random
import threading

from typer.testing import CliRunner

from carloop.cli.main import app
from carloop.ecosystem.mqtt import PahoClient


def _retained(url: str, base: int) -> list[str]:
    """What the broker still keeps for the run's first car, its light and its Home Assistant configs."""
    found: list[str] = []
    lock = threading.Lock()

    def keep(topic: str, payload: bytes) -> None:
        if "/bridge/" not in topic or f"bench-bridge-{base}-" in topic:
            with lock:
                found.append(topic)

    client = PahoClient(url, client_id=f"carloop-test-retained-{base}")
    client.connect()
    try:
        for pattern in (
            f"carloop/v1/+/{base}/#",
            f"homeassistant/+/vehicle_{base}/+/config",
            "carloop/v1/bridge/+/status",
        ):
            assert client.subscribe_confirmed(pattern, keep)
        # the broker sends a subscription's retained messages right after its SUBACK and answers packets
        # in order: once a later subscription is acknowledged, the earlier ones' retained have arrived
        assert client.subscribe_confirmed(f"carloop/v1/bench/sentinel/{base}", keep)
    finally:
        client.disconnect()
    with lock:
        return found


def test_bench_scenes_reports_latency_and_no_missed_scenes(mqtt_url: str) -> None:
    base = random.randrange(100_000_000, 900_000_000)  # device ids of our own on the shared broker
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "scenes",
            "--vehicles",
            "5",
            "--seconds",
            "6",
            "--mqtt-url",
            mqtt_url,
            "--base",
            str(base),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["published"] == 30 and body["processed"] == 30
    assert body["commands"] == 5 and body["missed"] == 0 and body["duplicates"] == 0
    assert 0 < body["p50_ms"] <= body["p99_ms"] <= body["max_ms"]
    # the hops of each command: car -> bridge's command, bridge's command -> device; each within the whole
    assert 0 < body["to_bridge_p99_ms"] <= body["p99_ms"] and 0 < body["to_device_p99_ms"] <= body["p99_ms"]
    assert _retained(mqtt_url, base) == []  # the shared broker is left as the run found it


def test_simulate_car_rejects_an_unknown_route() -> None:
    result = CliRunner().invoke(app, ["simulate", "car", "--route", "moon-home"])
    assert result.exit_code != 0


def test_bench_scenes_with_two_bridges_reports_each_share(mqtt_url: str) -> None:
    base = random.randrange(100_000_000, 900_000_000)
    result = CliRunner().invoke(
        app,
        [
            *("bench", "scenes", "--vehicles", "12", "--seconds", "5", "--bridges", "2"),
            *("--mqtt-url", mqtt_url, "--base", str(base), "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["processed"] == 60 and body["commands"] == 12 and body["missed"] == 0
    shares = body["bridges"]
    assert len(shares) == 2 and sum(s["cars"] for s in shares) == 12  # every car in exactly one share
    assert sum(s["processed"] for s in shares) == 60  # no car's state handled by both bridges
    assert all(s["missed"] == 0 and s["duplicates"] == 0 and s["partitions_moved"] == 0 for s in shares)
    for share in shares:
        assert 0 < share["to_bridge_p99_ms"] <= share["p99_ms"]
        assert 0 < share["to_device_p99_ms"] <= share["p99_ms"]
    assert _retained(mqtt_url, base) == []

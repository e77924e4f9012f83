"""The scenes benchmark end to end at a tiny size, through the real broker."""

from __future__ import annotations

import json
import random

from typer.testing import CliRunner

from carloop.cli.main import app


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

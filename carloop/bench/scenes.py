"""``carloop bench scenes``: N simulated cars publish once a second through a real MQTT broker to the
bridge (its own process), each owner has a "coming home" scene, and a third process receives the
device commands. Latency is telemetry publish -> command received (the bridge copies the telemetry's
timestamp into the command's ``cause``); every car's route crosses its home zone exactly once, so a car
without a command is a missed scene and a car with two is a duplicate. With ``bridges`` > 1 the cars are
sharded across that many bridge processes by the partition leases in a database (``bench.scenes_sharded``)
and each bridge's share, p99 and missed are reported too."""

from __future__ import annotations

import json
import multiprocessing as mp
import random
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

from carloop.bench.scenes_fleet import JITTER_M, RADIUS_M, SPEED_KMH, Counted, fleet_engine, home_of
from carloop.ecosystem.bridge import Bridge
from carloop.ecosystem.protocol import ROOT, state_topic


@dataclass
class BenchResult:
    """What the benchmark prints."""

    vehicles: int
    seconds: float
    published: int
    processed: int
    events_per_s: float
    commands: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    missed: int
    duplicates: int
    bridge_handle_p99_ms: float  # inside the bridge: state message in -> command handed to the client
    broker: str
    # The hops of a command's latency: car publish -> the bridge's command (through the broker, queued
    # at the bridge, handled), and the bridge's command -> the device (through the broker again).
    to_bridge_p99_ms: float = 0.0
    to_device_p99_ms: float = 0.0
    bridges: list[dict[str, Any]] = field(default_factory=list)  # each bridge's share, p99 and missed

    def as_json(self) -> dict[str, Any]:
        """The --json object."""
        body = {k: _rounded(v) for k, v in self.__dict__.items()}
        body["bridges"] = [{k: _rounded(v) for k, v in b.items()} for b in self.bridges]
        return body


def _rounded(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def _bridge_main(
    url: str, vehicles: int, base: int, ha: bool, ready: MpEvent, stop: MpEvent, out: Any
) -> None:
    from carloop.ecosystem.mqtt import PahoClient
    from carloop.ecosystem.protocol import BRIDGE_STATUS, OFFLINE

    engine, infos = fleet_engine(vehicles, base)
    client = PahoClient(url, client_id=f"carloop-bench-bridge-{base}", will=(BRIDGE_STATUS, OFFLINE))
    client.connect()
    bridge = Bridge(client, engine, vehicles=infos, ha_enabled=ha)
    counted = Counted(bridge)
    bridge.sink = counted.sink
    bridge.start(tick_interval=0.25, freeze_gc=True)
    ready.set()
    stop.wait()
    bridge.stop()
    client.disconnect()
    out.put(counted.report(bridge))


def _receiver_main(url: str, base: int, vehicles: int, ready: MpEvent, stop: MpEvent, out: Any) -> None:
    from carloop.ecosystem.mqtt import PahoClient
    from carloop.ecosystem.protocol import entity_of

    seen: list[tuple[str, float, float]] = []  # topic, ms since the car published, ms since the bridge sent
    own = {f"light.{base + i}" for i in range(vehicles)}  # a shared broker carries other runs' commands

    def on_command(topic: str, payload: bytes) -> None:
        now = time.time()
        if entity_of(topic) not in own:
            return
        body = json.loads(payload)
        sent = (body.get("cause") or {}).get("ts")
        seen.append(
            (
                topic,
                (now - float(sent)) * 1000 if sent is not None else -1.0,
                (now - float(body["issued_at"])) * 1000,
            )
        )

    client = PahoClient(url, client_id=f"carloop-bench-devices-{base}")
    client.connect()
    client.subscribe(f"{ROOT}/light/+/command", on_command, qos=1)
    time.sleep(0.3)
    ready.set()
    stop.wait()
    time.sleep(0.2)
    client.disconnect()
    out.put(seen)


def run(
    url: str,
    *,
    vehicles: int,
    seconds: float,
    base: int = 1,
    ha: bool = True,
    broker: str = "",
    progress: Callable[[float], None] | None = None,
    bridges: int = 1,
) -> BenchResult:
    """Run the benchmark against the broker at ``url`` (``bridges`` > 1: cars sharded across them)."""
    from carloop.ecosystem.mqtt import PahoClient
    from carloop.ecosystem.simulator import SimCar, offset

    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    ready_devices = ctx.Event()
    readies = [ctx.Event() for _ in range(bridges)]
    bridge_out, devices_out = ctx.Queue(), ctx.Queue()
    if bridges == 1:
        bridge_procs = [
            ctx.Process(
                target=_bridge_main, args=(url, vehicles, base, ha, readies[0], stop, bridge_out), daemon=True
            )
        ]
    else:
        from carloop.bench.scenes_sharded import bridge_main, membership_db

        db_url = membership_db()
        bridge_procs = [
            ctx.Process(
                target=bridge_main,
                args=(url, db_url, n, bridges, vehicles, base, ha, readies[n], stop, bridge_out),
                daemon=True,
            )
            for n in range(bridges)
        ]
    devices_proc = ctx.Process(
        target=_receiver_main, args=(url, base, vehicles, ready_devices, stop, devices_out), daemon=True
    )
    for proc in bridge_procs:
        proc.start()
    devices_proc.start()
    if not all(r.wait(180) for r in readies) or not ready_devices.wait(60):
        stop.set()
        raise RuntimeError("a bridge or the device process did not start")

    rng = random.Random(base)  # noqa: S311 - simulation, not security
    cars: list[tuple[str, SimCar]] = []
    for i in range(vehicles):
        home = home_of(i)
        enter_at = rng.uniform(0.25, 0.65) * seconds  # seconds into the run the car crosses the zone edge
        bearing = rng.uniform(0, 360)
        start = offset(home, RADIUS_M + SPEED_KMH / 3.6 * enter_at, bearing)
        car = SimCar(position=start, jitter_m=JITTER_M, rng=random.Random(i))  # noqa: S311
        car.drive([start, home], speed_kmh=SPEED_KMH)
        cars.append((f"vehicle.{base + i}", car))
    client = PahoClient(url, client_id=f"carloop-bench-cars-{base}")
    client.connect()
    topics = [state_topic(entity) for entity, _ in cars]
    published = 0
    t0 = time.monotonic() + 0.5
    rounds = int(seconds)
    for k in range(rounds):
        for i, (_, car) in enumerate(cars):
            due = t0 + k + i / vehicles
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if k:
                car.step(1.0)
            body = car.telemetry(time.time())
            client.publish(topics[i], json.dumps(body, separators=(",", ":")))
            published += 1
        if progress is not None:
            progress((k + 1) / rounds)
    time.sleep(2.0)  # let the last commands arrive
    stop.set()
    stats = [bridge_out.get(timeout=30) for _ in bridge_procs]
    received: list[tuple[str, float, float]] = devices_out.get(timeout=30)
    for proc in bridge_procs:
        proc.join(10)
    devices_proc.join(10)
    client.disconnect()

    per_device: dict[str, int] = {}
    for topic, _, _ in received:
        per_device[topic] = per_device.get(topic, 0) + 1
    q = _quantiles([ms for _, ms, _ in received if ms >= 0])
    hops = _hops(received)
    processed = sum(int(s["processed"]) for s in stats)
    return BenchResult(
        vehicles=vehicles,
        seconds=float(rounds),
        published=published,
        processed=processed,
        events_per_s=processed / rounds if rounds else 0.0,
        commands=len(received),
        p50_ms=q[0],
        p99_ms=q[1],
        max_ms=q[2],
        missed=vehicles - len(per_device),
        duplicates=sum(n - 1 for n in per_device.values()),
        bridge_handle_p99_ms=max(float(s["handle_p99_ms"]) for s in stats),
        broker=broker,
        to_bridge_p99_ms=hops[0],
        to_device_p99_ms=hops[1],
        bridges=[_share(s, base, received) for s in stats] if bridges > 1 else [],
    )


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max of latencies (zeros when there are none)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0, 0.0, 0.0
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) >= 2 else ordered * 99
    return q[49], q[98], ordered[-1]


def _hops(received: list[tuple[str, float, float]]) -> tuple[float, float]:
    """p99 of car -> bridge's command and of bridge's command -> device."""
    timed = [(ms, out) for _, ms, out in received if ms >= 0]
    return _quantiles([ms - out for ms, out in timed])[1], _quantiles([out for _, out in timed])[1]


def _share(stats: dict[str, Any], base: int, received: list[tuple[str, float, float]]) -> dict[str, Any]:
    """One sharded bridge's line: its share of the cars, their commands' p99, missed and duplicates."""
    from carloop.ecosystem.protocol import command_topic

    mine = {command_topic(f"light.{base + i}") for i in stats["cars"]}
    per_device: dict[str, int] = {}
    latencies = []
    for topic, ms, _ in received:
        if topic in mine:
            per_device[topic] = per_device.get(topic, 0) + 1
            if ms >= 0:
                latencies.append(ms)
    p50, p99, most = _quantiles(latencies)
    to_bridge, to_device = _hops([r for r in received if r[0] in mine])
    return {
        "member": stats["member"],
        "cars": len(stats["cars"]),
        "processed": stats["processed"],
        "commands": stats["commands"],
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": most,
        "missed": len(mine) - len(per_device),
        "duplicates": sum(n - 1 for n in per_device.values()),
        "handle_p99_ms": stats["handle_p99_ms"],
        "to_bridge_p99_ms": to_bridge,
        "to_device_p99_ms": to_device,
        "partitions_moved": stats["partitions_moved"],
    }


def _broker(url: str | None) -> tuple[str, object | None, str]:
    """The broker to use: the given URL, else a fresh embedded one on a free port."""
    if url:
        return url, None, url
    import socket

    from carloop.ecosystem.broker import EmbeddedBroker

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    broker = EmbeddedBroker(port)
    broker.start()
    return broker.url, broker, f"embedded {broker.kind}"


def bench_retained_topics(vehicles: int, base: int, bridges: int) -> list[str]:
    """Every topic a run leaves a retained message on: its cars' and lights' states and availability,
    the cars' Home Assistant states and discovery configs, its sharded bridges' status."""
    from carloop.ecosystem.discovery import vehicle_configs
    from carloop.ecosystem.protocol import (
        availability_topic,
        bridge_status_topic,
        ha_location_topic,
        ha_state_topic,
    )

    topics: list[str] = []
    for i in range(vehicles):
        car, light = f"vehicle.{base + i}", f"light.{base + i}"
        topics += [state_topic(car), availability_topic(car), ha_state_topic(car), ha_location_topic(car)]
        topics += [state_topic(light), availability_topic(light), *vehicle_configs(car, name="")]
    if bridges > 1:
        topics += [bridge_status_topic(f"bench-bridge-{base}-{index}") for index in range(bridges)]
    return topics


def clear_retained(url: str, topics: list[str]) -> None:
    """Leave a shared broker as the run found it: an empty retained message on each of ``topics`` (a
    run of 2,000 cars leaves ~32,000; left there, Home Assistant would show 2,000 cars that do not exist
    and every later subscriber to ``homeassistant/#`` would receive them all first)."""
    from carloop.ecosystem.mqtt import PahoClient

    tag = uuid.uuid4().hex[:12]
    client = PahoClient(url, client_id=f"carloop-bench-clear-{tag}")
    client.connect()
    try:
        for topic in topics:
            client.publish(topic, b"", qos=1, retain=True)
        # the broker answers one connection's packets in order: this SUBACK comes after every PUBACK
        client.subscribe_confirmed(f"{ROOT}/bench/clear/{tag}", lambda t, p: None)
    finally:
        client.disconnect()


def run_with_broker(
    mqtt_url: str | None, *, vehicles: int, seconds: int, base: int, ha: bool, show: bool, bridges: int = 1
) -> BenchResult:
    """``run`` against ``mqtt_url``, or an embedded broker started (and stopped) for it; on a broker of
    someone else's, the run's retained messages are cleared afterwards."""
    url, broker, label = _broker(mqtt_url)
    try:
        if not show:
            return run(
                url, vehicles=vehicles, seconds=seconds, base=base, ha=ha, broker=label, bridges=bridges
            )
        from rich.progress import Progress

        with Progress() as bar:
            task = bar.add_task(f"{vehicles} cars driving home", total=1.0)
            return run(
                url,
                vehicles=vehicles,
                seconds=seconds,
                base=base,
                ha=ha,
                broker=label,
                progress=lambda f: bar.update(task, completed=f),
                bridges=bridges,
            )
    finally:
        if broker is not None:
            broker.stop()  # type: ignore[attr-defined]
        else:
            clear_retained(url, bench_retained_topics(vehicles, base, bridges))

"""``carloop bench scenes`` and ``carloop simulate car``: the person-car-home benchmark and simulator."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer


def register(bench_app: typer.Typer, simulate_app: typer.Typer) -> None:
    """Add the ecosystem's commands to the bench and simulate groups."""
    bench_app.command("scenes")(bench_scenes)
    simulate_app.command("car")(simulate_car)


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


def bench_scenes(
    vehicles: Annotated[
        int, typer.Option(min=1, max=20_000, help="Simulated cars (one owner and scene each).")
    ] = 1000,
    seconds: Annotated[
        int, typer.Option(min=3, max=3600, help="How long the cars publish (once a second).")
    ] = 30,
    mqtt_url: Annotated[
        str | None, typer.Option("--mqtt-url", help="Broker to use; default: start an embedded one.")
    ] = None,
    ha: Annotated[
        bool, typer.Option("--ha/--no-ha", help="Also publish each car's Home Assistant state.")
    ] = True,
    base: Annotated[int, typer.Option(help="First device id (keeps runs on a shared broker apart).")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Cars publish telemetry through the broker; p99 telemetry publish -> device command, missed scenes."""
    from rich.progress import Progress

    from carloop.ecosystem import bench

    url, broker, label = _broker(mqtt_url)
    try:
        if as_json:
            result = bench.run(url, vehicles=vehicles, seconds=seconds, base=base, ha=ha, broker=label)
        else:
            with Progress() as progress:
                task = progress.add_task(f"{vehicles} cars driving home", total=1.0)
                result = bench.run(
                    url,
                    vehicles=vehicles,
                    seconds=seconds,
                    base=base,
                    ha=ha,
                    broker=label,
                    progress=lambda f: progress.update(task, completed=f),
                )
    finally:
        if broker is not None:
            broker.stop()  # type: ignore[attr-defined]
    body = result.as_json()
    if as_json:
        print(json.dumps(body))
    else:
        for key, value in body.items():
            typer.echo(f"{key:>14}: {value}")
    raise typer.Exit(0 if result.missed == 0 else 1)


def simulate_car(
    mqtt_url: Annotated[
        str, typer.Option("--mqtt-url", help="The broker the bridge uses.")
    ] = "mqtt://127.0.0.1:18830",
    vehicle: Annotated[str, typer.Option(help="The car's entity id, e.g. vehicle.1.")] = "vehicle.1",
    route: Annotated[
        str, typer.Option(help="office-home, home-office, delivery-home, hongqiao-people_square")
    ] = ("office-home"),
    speed: Annotated[float, typer.Option(help="km/h")] = 50.0,
    devices: Annotated[
        str, typer.Option(help="Comma-separated home devices to simulate too, e.g. light.2,climate.3")
    ] = "",
    seconds: Annotated[int, typer.Option(help="Stop after this many seconds (0: when the route ends).")] = 0,
    jitter: Annotated[float, typer.Option(help="GPS noise in metres.")] = 8.0,
) -> None:
    """Drive a car along a route between real Shanghai places, publishing telemetry and obeying commands."""
    from carloop.ecosystem.mqtt import PahoClient
    from carloop.ecosystem.simulator import ROUTES, Fleet, SimCar, SimDevice

    if route not in ROUTES:
        raise typer.BadParameter(f"unknown route {route!r}; one of {', '.join(ROUTES)}")
    client = PahoClient(mqtt_url, client_id=f"carloop-sim-{vehicle}")
    client.connect()
    fleet = Fleet(client)
    car = SimCar(jitter_m=jitter)
    fleet.add_car(vehicle, car)
    for entity_id in filter(None, (d.strip() for d in devices.split(","))):
        fleet.add_device(entity_id, SimDevice(entity_id.split(".")[0]))
    fleet.drive(vehicle, ROUTES[route], speed_kmh=speed)
    started = time.monotonic()
    try:
        while (car.moving or seconds) and (not seconds or time.monotonic() - started < seconds):
            time.sleep(1.0)
            fleet.step(1.0)
            t = car.telemetry(time.time())
            car.seq -= 1  # telemetry() above was only for the printout
            typer.echo(f"{t['latitude']:.5f},{t['longitude']:.5f} {t['speed']} km/h battery {t['battery']}%")
    finally:
        for entity_id, command, _ in fleet.received:
            typer.echo(f"obeyed {command} on {entity_id}")
        client.disconnect()

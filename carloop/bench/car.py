"""``carloop simulate car``: one simulated car drives a route between real Shanghai places over MQTT."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable


def drive(
    *,
    mqtt_url: str,
    vehicle: str,
    route: str,
    speed: float,
    devices: str,
    seconds: int,
    jitter: float,
    echo: Callable[[str], None],
    keepalive: int = 30,
) -> None:
    """Drive ``vehicle`` along ``route``, publishing telemetry and obeying commands; ``echo`` each second.

    The car starts where the route starts (its first position is the route's, so a drive is one
    arrival). Each simulated device has its own connection whose last will is its ``offline``; a
    stop (end of route, Ctrl-C or SIGTERM) says ``offline`` for each. Raises ``ValueError`` for an
    unknown route.
    """
    from carloop.ecosystem.mqtt import PahoClient
    from carloop.ecosystem.simulator import ROUTES, Fleet, SimCar, SimDevice

    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; one of {', '.join(ROUTES)}")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a polite kill still says offline

    def connect(entity_id: str, will: tuple[str, str]) -> PahoClient:
        client = PahoClient(mqtt_url, client_id=f"carloop-sim-{entity_id}", will=will, keepalive=keepalive)
        client.connect()
        return client

    fleet = Fleet(connect=connect)
    car = SimCar(jitter_m=jitter)
    car.drive(ROUTES[route], speed_kmh=speed)  # the first position published is the route's start
    fleet.add_car(vehicle, car)
    for entity_id in filter(None, (d.strip() for d in devices.split(","))):
        fleet.add_device(entity_id, SimDevice(entity_id.split(".")[0]))
    started = time.monotonic()
    try:
        while (car.moving or seconds) and (not seconds or time.monotonic() - started < seconds):
            time.sleep(1.0)
            fleet.step(1.0)
            t = car.telemetry(time.time())
            car.seq -= 1  # telemetry() above was only for the printout
            echo(f"{t['latitude']:.5f},{t['longitude']:.5f} {t['speed']} km/h battery {t['battery']}%")
    finally:
        for entity_id, command, _ in fleet.received:
            echo(f"obeyed {command} on {entity_id}")
        fleet.stop()  # every simulated device says offline, then disconnects

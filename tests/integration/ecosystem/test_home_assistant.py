"""A real Home Assistant next to carloop: the owner's car as Home Assistant users expect it.

Starts its own Mosquitto, the bridge on the test database, the car simulator (``carloop simulate car``
in its own process) and Home Assistant (its own virtual environment: HA 2025.x needs Python 3.13) with
the MQTT integration, two automations and ``mqtt_statestream``, which publishes every Home Assistant
state back to MQTT so this test reads them without Home Assistant's API. It proves: every discovered
entity has a valid state and Home Assistant logs no error about them; a zh-CN owner sees Chinese
names; killing the simulator makes the car unavailable within the keep-alive and a clean bridge stop
makes every entity unavailable; an arrival automation fires exactly once per drive; Home
Assistant's lock command locks the car.

Skipped (with the reason) when no Home Assistant is installed: set ``CARLOOP_TEST_HA_PYTHON`` to its
Python (default ``/work/ha-venv/bin/python``); install it with
``python3.13 -m venv /work/ha-venv && /work/ha-venv/bin/pip install homeassistant==2025.4.4
home-assistant-frontend==20250411.0 paho-mqtt==2.1.0``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.ecosystem import preferences, service
from carloop.ecosystem.api_schemas import HomeCreate
from carloop.ecosystem.broker import EmbeddedBroker
from carloop.ecosystem.discovery import vehicle_configs
from carloop.ecosystem.mqtt import PahoClient
from carloop.ecosystem.runtime import Runtime
from carloop.ecosystem.simulator import PLACES

HA_PYTHON = os.environ.get("CARLOOP_TEST_HA_PYTHON", "/work/ha-venv/bin/python")
KEEPALIVE = 5  # the simulator's; the broker gives up on it after 1.5 x this
# Home Assistant errors that come from this machine, not from carloop's entities
ENVIRONMENT_ERRORS = ("libturbojpeg", "ffmpeg", "FFmpeg")

SCHEMA_CHECK = """
import asyncio, importlib, json, sys, tempfile
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame

async def main():
    hass = HomeAssistant(tempfile.mkdtemp())
    frame.async_setup(hass)
    failures = []
    for topic, config in json.load(sys.stdin).items():
        module = importlib.import_module(f"homeassistant.components.mqtt.{topic.split('/')[1]}")
        try:
            module.DISCOVERY_SCHEMA(dict(config))
        except Exception as err:
            failures.append(f"{topic}: {err}")
    print(json.dumps(failures))

asyncio.run(main())
"""


def _home_assistant_python() -> str:
    if not Path(HA_PYTHON).is_file():
        pytest.skip(f"Home Assistant is not installed ({HA_PYTHON} missing; see this module's docstring)")
    probe = subprocess.run(
        [HA_PYTHON, "-c", "import homeassistant.const as c, hass_frontend, paho.mqtt; print(c.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"Home Assistant at {HA_PYTHON} is incomplete: {probe.stderr.strip()[-200:]}")
    return HA_PYTHON


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Watcher:
    """Every message on ``hastate/#`` (Home Assistant's states) and ``hatest/#`` (the automations)."""

    def __init__(self, url: str) -> None:
        self.latest: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.client = PahoClient(url)
        self.client.connect()
        self.client.subscribe("hastate/#", self._on, qos=1)
        self.client.subscribe("hatest/#", self._on, qos=1)
        self.client.subscribe("homeassistant/status", self._on, qos=1)

    def _on(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.latest[topic] = payload.decode()
            self.counts[topic] = self.counts.get(topic, 0) + 1

    def state(self, entity_id: str) -> str | None:
        """An entity's state as Home Assistant last published it."""
        with self.lock:
            return self.latest.get(f"hastate/{entity_id.replace('.', '/')}/state")

    def attribute(self, entity_id: str, name: str) -> Any:
        with self.lock:
            raw = self.latest.get(f"hastate/{entity_id.replace('.', '/')}/{name}")
        return None if raw is None else json.loads(raw)


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _config(path: Path, *, port: int, http_port: int, car: str) -> None:
    node = car.replace(".", "_")
    (path / ".storage").mkdir(parents=True)
    (path / "configuration.yaml").write_text(
        f"""
homeassistant:
  name: carloop test
  latitude: {PLACES["home"][0]}
  longitude: {PLACES["home"][1]}
  elevation: 4
  unit_system: metric
  time_zone: Asia/Shanghai
  country: CN
  currency: CNY
  language: zh-Hans
http:
  server_host: 127.0.0.1
  server_port: {http_port}
logger:
  default: warning
mqtt_statestream:
  base_topic: hastate
  publish_attributes: true
automation:
  - id: carloop_arrival
    alias: car arrived home
    triggers:
      - trigger: state
        entity_id: sensor.carloop_{node}_zone
        to: home
        not_from: [unavailable, unknown]
    actions:
      - action: mqtt.publish
        data: {{topic: hatest/arrived, payload: "{{{{ now().timestamp() }}}}"}}
  - id: carloop_lock
    alias: lock the car
    triggers:
      - trigger: mqtt
        topic: hatest/lock
    actions:
      - action: lock.lock
        target: {{entity_id: lock.carloop_{node}_lock}}
"""
    )
    entry = {
        "entry_id": "01carlooptestmqttbroker0000",
        "version": 1,
        "minor_version": 2,
        "domain": "mqtt",
        "title": "carloop test broker",
        "data": {"broker": "127.0.0.1", "port": port},
        "options": {},
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
        "source": "user",
        "unique_id": None,
        "disabled_by": None,
        "discovery_keys": {},
        "subentries": [],
        "created_at": "2026-01-01T00:00:00+00:00",
        "modified_at": "2026-01-01T00:00:00+00:00",
    }
    (path / ".storage" / "core.config_entries").write_text(
        json.dumps(
            {"version": 1, "minor_version": 5, "key": "core.config_entries", "data": {"entries": [entry]}}
        )
    )


def _simulator(url: str, car: str, route: str, speed: float, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from carloop.cli.main import app; app()", "simulate", "car"]
    command += ["--mqtt-url", url, "--vehicle", car, "--route", route, "--speed", str(speed)]
    command += ["--seconds", "600", "--jitter", "0", "--keepalive", str(KEEPALIVE)]
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    own = EmbeddedBroker(_free_port())
    own.start()
    if own.kind != "mosquitto":
        own.stop()
        pytest.skip("the Home Assistant test needs Mosquitto installed")
    try:
        yield own
    finally:
        own.stop()


def test_home_assistant_sees_the_car_as_its_users_expect(
    session_factory: sessionmaker[Session], broker: EmbeddedBroker, tmp_path: Path
) -> None:
    ha_python = _home_assistant_python()
    if session_factory.kw["bind"].dialect.name != "sqlite":
        pytest.skip("Home Assistant's view does not depend on the database: run once, on SQLite")
    with session_factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone="13600136000")
        service.create_home(
            session=session,
            customer_id=customer.id,
            data=HomeCreate(name="家", latitude=PLACES["home"][0], longitude=PLACES["home"][1]),
        )
        device = service.link_vehicle(
            session=session, customer_id=customer.id, order_id=7101, vin=None, model="su7", trim="pro"
        )
        preferences.set_ha_language(session=session, customer_id=customer.id, language="zh_CN")
        car = device.entity_id
    node = f"carloop_{car.replace('.', '_')}"
    entities = {
        f"{topic.split('/')[1]}.{node}_{topic.split('/')[3]}": topic.split("/")[3]
        for topic in vehicle_configs(car, name="x")
    }

    # Home Assistant's own schema accepts every discovery payload
    schema = subprocess.run(
        [ha_python, "-c", SCHEMA_CHECK],
        input=json.dumps(vehicle_configs(car, name="su7 pro", language="zh_CN")),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(schema.stdout.strip().splitlines()[-1]) == []

    config = tmp_path / "ha"
    _config(config, port=broker.port, http_port=_free_port(), car=car)
    runtime = Runtime(session_factory, broker.url, simulate=False, reload_interval=0.5, tick_interval=0.1)
    runtime.start()
    watcher = Watcher(broker.url)
    with (tmp_path / "hass.out").open("wb") as out:
        hass = subprocess.Popen(
            [str(Path(ha_python).parent / "hass"), "-c", str(config), "--skip-pip"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    simulators: list[subprocess.Popen[bytes]] = []
    bridge_running = True
    try:
        wait_for(
            lambda: watcher.latest.get("homeassistant/status") == "online", 180, "Home Assistant to start"
        )
        wait_for(
            lambda: all(watcher.state(e) == "unavailable" for e in entities),
            60,
            "every entity discovered (unavailable: the car is not connected yet)",
        )

        # the car drives home from Lujiazui: available, valid states, Chinese names
        simulators.append(_simulator(broker.url, car, "office-home", 1200, tmp_path / "sim.log"))
        wait_for(  # each entity's first state arrives on its own (statestream publishes them one by one)
            lambda: (
                all(
                    watcher.state(e) not in (None, "unavailable", "unknown")
                    for e, object_id in entities.items()
                    if object_id not in ("destination", "send_destination")  # unknown: nothing set yet
                )
                and watcher.state(f"sensor.{node}_destination") == "unknown"
            ),
            60,
            "every entity available with a state",
        )
        assert watcher.state(f"sensor.{node}_zone") == "not_home"
        assert watcher.state(f"device_tracker.{node}_location") == "not_home"
        assert float(watcher.state(f"sensor.{node}_battery") or "nan") > 0
        assert float(watcher.state(f"sensor.{node}_range") or "nan") > 0
        assert watcher.state(f"lock.{node}_lock") == "unlocked"  # a driven car is unlocked
        assert watcher.state(f"binary_sensor.{node}_doors") == "off"
        assert watcher.state(f"climate.{node}_climate") in ("off", "auto", "cool", "heat")
        assert watcher.state(f"sensor.{node}_destination") == "unknown"  # no destination set
        assert watcher.attribute(f"sensor.{node}_battery", "friendly_name") == "su7 pro 电量"
        assert watcher.attribute(f"lock.{node}_lock", "friendly_name") == "su7 pro 车锁"
        assert watcher.attribute(f"sensor.{node}_zone", "friendly_name") == "su7 pro 所在区域"

        # one drive, one arrival
        wait_for(lambda: watcher.state(f"sensor.{node}_zone") == "home", 90, "the car to arrive home")
        wait_for(lambda: watcher.state(f"device_tracker.{node}_location") == "home", 10, "the tracker home")
        wait_for(lambda: watcher.counts.get("hatest/arrived"), 10, "the arrival automation")
        time.sleep(3)  # the car stands at home, still publishing
        assert watcher.counts.get("hatest/arrived") == 1

        # Home Assistant locks the car: the command reaches it and its state comes back
        watcher.client.publish("hatest/lock", "go", qos=1)
        wait_for(lambda: watcher.state(f"lock.{node}_lock") == "locked", 20, "the car to lock")

        # the simulator is killed: the broker says the car is offline within its keep-alive
        simulators[0].send_signal(signal.SIGKILL)
        simulators[0].wait()
        killed = time.monotonic()
        wait_for(
            lambda: all(watcher.state(e) == "unavailable" for e in entities),
            KEEPALIVE * 1.5 + 10,
            "every entity unavailable after the car vanished",
        )
        assert time.monotonic() - killed <= KEEPALIVE * 1.5 + 5

        # the car comes back (parked at home: no second arrival); then the bridge stops cleanly
        simulators.append(_simulator(broker.url, car, "home-office", 1, tmp_path / "sim2.log"))
        wait_for(
            lambda: all(watcher.state(e) not in (None, "unavailable") for e in entities), 60, "the car back"
        )
        runtime.stop()
        bridge_running = False
        wait_for(
            lambda: all(watcher.state(e) == "unavailable" for e in entities),
            20,
            "every entity unavailable after the bridge stopped",
        )
        assert watcher.counts.get("hatest/arrived") == 1
    finally:
        if bridge_running:
            runtime.stop()
        for simulator in simulators:
            if simulator.poll() is None:
                simulator.terminate()
                simulator.wait(timeout=20)
        hass.terminate()
        try:
            hass.wait(timeout=60)
        except subprocess.TimeoutExpired:
            hass.kill()
        watcher.client.disconnect()

    log = (config / "home-assistant.log").read_text(errors="replace")
    errors = [
        line
        for line in log.splitlines()
        if (" ERROR " in line or " CRITICAL " in line) and not any(e in line for e in ENVIRONMENT_ERRORS)
    ]
    assert errors == [], "\n".join(errors[:20])
    assert "carloop" not in "\n".join(line for line in log.splitlines() if " WARNING " in line)

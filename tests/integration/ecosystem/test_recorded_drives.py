"""The server's bridge keeps a car's states only with its owner's consent, and stores availability
and the last report for the owner's page (in-memory broker, real database)."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.ecosystem import preferences
from carloop.ecosystem.models import Device, DriveSample
from carloop.ecosystem.mqtt import FakeBroker, MqttClient
from carloop.ecosystem.protocol import availability_topic, state_topic
from carloop.ecosystem.runtime import Runtime
from carloop.ecosystem.simulator import PLACES

from .conftest import Owner


def _runtime(session_factory: sessionmaker[Session], broker: FakeBroker) -> Runtime:
    def connect(url: str, will: tuple[str, str] | None) -> MqttClient:
        return broker.client(will=will)

    runtime = Runtime(
        session_factory,
        "memory",
        simulate=False,
        client_factory=connect,
        reload_interval=0,
        tick_interval=None,
    )
    runtime.start()
    return runtime


def _samples(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(DriveSample)) or 0)


def test_drives_are_recorded_only_with_consent(session_factory: sessionmaker[Session], owner: Owner) -> None:
    broker = FakeBroker()
    runtime = _runtime(session_factory, broker)
    assert runtime.bridge is not None
    fix = {"ts": 1_780_000_000.0, "latitude": PLACES["office"][0], "longitude": PLACES["office"][1]}
    try:
        broker.client().publish(state_topic(owner.car), json.dumps(fix))
        runtime.bridge.tick()
        assert _samples(session_factory) == 0  # no consent: nothing kept

        with session_factory.begin() as session:
            preferences.set_drive_recording(
                session=session, customer_id=owner.customer_id, record=True, retention_days=7
            )
        runtime.reload()
        broker.client().publish(state_topic(owner.car), json.dumps({**fix, "ts": fix["ts"] + 1}))
        broker.client().publish(state_topic(owner.light), json.dumps({"ts": fix["ts"], "state": "on"}))
        runtime.bridge.tick()
        assert _samples(session_factory) == 1  # the car's state, not the light's
    finally:
        runtime.stop()


def test_the_page_learns_when_a_device_was_last_seen_and_whether_it_is_online(
    session_factory: sessionmaker[Session], owner: Owner
) -> None:
    broker = FakeBroker()
    runtime = _runtime(session_factory, broker)
    assert runtime.bridge is not None
    try:
        broker.client().publish(availability_topic(owner.car), "online", retain=True)
        broker.client().publish(state_topic(owner.car), json.dumps({"ts": 1_780_000_000.0, "battery": 70}))
        runtime.bridge.tick()
        with session_factory() as session:
            car = session.get(Device, owner.car_id)
            assert car is not None and car.state["online"] is True and car.state["ts"] == 1_780_000_000.0
        broker.client().publish(availability_topic(owner.car), "offline", retain=True)
        runtime.bridge.tick()
        with session_factory() as session:
            car = session.get(Device, owner.car_id)
            assert car is not None and car.state["online"] is False
    finally:
        runtime.stop()

"""Adversarial, against real brokers: a Mosquitto this test starts on a free port with carloop's generated
config, password file and ACL file, and the embedded amqtt broker enforcing the same files.

Two owners each have a car with broker credentials; owner A also has Home Assistant credentials. An
anonymous client, a wrong secret, car A and A's Home Assistant then try to reach car B. "Nothing arrived"
is proven without sleeping: after each forbidden publish the same client publishes an allowed sentinel,
and once the bridge has handled the sentinel it pings car B; whatever the forbidden message caused
would have reached car B before that ping.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.ecosystem import credentials, service
from carloop.ecosystem.broker import EmbeddedBroker
from carloop.ecosystem.mqtt import MqttError, PahoClient
from carloop.ecosystem.protocol import (
    availability_topic,
    command_topic,
    ha_command_topic,
    ha_state_topic,
    owner_topic,
    state_topic,
)
from carloop.ecosystem.runtime import BrokerAuth, Runtime, start
from carloop.settings import Settings

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else ""
)
EXACT = {"latitude": 31.219612, "longitude": 121.544734}


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Login:
    username: str
    password: str


@dataclass
class Peer:
    """A client of the broker that remembers what it received."""

    client: PahoClient
    received: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def listen(self, pattern: str) -> None:
        def on(topic: str, payload: bytes) -> None:
            with self.lock:
                self.received.append((topic, payload))

        self.client.subscribe_confirmed(pattern, on, qos=1)  # in place before anything is published

    def seen(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return list(self.received)


@dataclass
class World:
    url: str
    runtime: Runtime
    broker: EmbeddedBroker
    session_factory: sessionmaker[Session]
    car_a: str
    car_b: str
    car_b_id: int
    customer_a: int
    customer_b: int
    logins: dict[str, Login]
    peers: list[PahoClient] = field(default_factory=list)

    def connect(self, login: Login | None, *, will: tuple[str, str] | None = None) -> PahoClient:
        host = self.url.removeprefix("mqtt://")
        url = f"mqtt://{login.username}:{login.password}@{host}" if login else self.url
        client = PahoClient(url, will=will)
        client.connect(timeout=5)
        self.peers.append(client)
        return client

    def peer(self, login: Login | None, pattern: str | None = None) -> Peer:
        peer = Peer(self.connect(login))
        if pattern:
            peer.listen(pattern)
        return peer

    def ready(self) -> None:
        """Wait until the bridge's subscriptions are in place (a state it hears proves it)."""
        car_a = self.connect(self.logins["a"])
        bridge = self.runtime.bridge
        assert bridge is not None
        token = uuid.uuid4().hex

        def heard() -> bool:
            car_a.publish_confirmed(state_topic(self.car_a), json.dumps({"ts": 0.5, "token": token}))
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                if bridge.engine.states.get(self.car_a, {}).get("token") == token:
                    return True
                time.sleep(0.02)
            return False

        wait_for(heard)

    def settle(self, publisher: PahoClient, own_car: str, car_b: Peer) -> list[tuple[str, bytes]]:
        """What car B received up to now: ``publisher`` (a car) sends an allowed sentinel state, the
        bridge handles it, then pings car B; everything car B got before the ping is returned."""
        token = uuid.uuid4().hex
        publisher.publish_confirmed(state_topic(own_car), json.dumps({"ts": 1.0, "token": token}))
        bridge = self.runtime.bridge
        assert bridge is not None
        wait_for(lambda: bridge.engine.states.get(own_car, {}).get("token") == token)
        self.runtime.send(self.car_b, "ping", {"token": token}, source="test")
        return before(car_b, token)


def before(peer: Peer, token: str) -> list[tuple[str, bytes]]:
    """The messages ``peer`` received before the one carrying ``token`` (waiting for that one)."""

    def up_to() -> tuple[list[tuple[str, bytes]]] | None:
        seen = peer.seen()
        for i, (_, payload) in enumerate(seen):
            if token in payload.decode(errors="replace"):
                return (seen[:i],)
        return None

    found: tuple[list[tuple[str, bytes]]] = wait_for(up_to)
    return found[0]


def _car_with_credentials(session: Session, phone: str, order_id: int) -> tuple[int, str, int, Login]:
    customer = accounts.get_or_create_customer(session=session, phone=phone)
    car = service.link_vehicle(
        session=session, customer_id=customer.id, order_id=order_id, vin=None, model="su7", trim="pro"
    )
    issued = service.issue_device_credentials(session=session, customer_id=customer.id, device_id=car.id)
    return customer.id, car.entity_id, car.id, Login(issued.username, issued.secret)


@pytest.fixture(params=["mosquitto", "amqtt"])
def world(
    request: pytest.FixtureRequest, session_factory: sessionmaker[Session], tmp_path: Path
) -> Iterator[World]:
    """Two owners' cars with credentials, A's Home Assistant, a broker with carloop's files, the bridge."""
    kind = str(request.param)
    if kind == "mosquitto" and not MOSQUITTO:
        pytest.skip("Mosquitto is not installed")
    with session_factory.begin() as session:
        customer_a, car_a, _, login_a = _car_with_credentials(session, "13800138011", 8101)
        customer_b, car_b, car_b_id, login_b = _car_with_credentials(session, "13900139011", 8102)
        ha = service.issue_home_assistant_credentials(session=session, customer_id=customer_a)
    auth = BrokerAuth(
        secrets.token_urlsafe(16), secrets.token_urlsafe(16), tmp_path / "auth", simulator=False
    )
    broker = EmbeddedBroker(free_port(), auth_dir=auth.directory, kind=kind)
    runtime = Runtime(
        session_factory, broker.url, simulate=False, reload_interval=0, tick_interval=None, auth=auth
    )
    runtime.broker = broker
    with session_factory() as session:
        runtime.write_auth(session)  # before the broker starts: the bridge must be able to log in
    broker.start()
    logins = {
        "a": login_a,
        "b": login_b,
        "ha_a": Login(ha.username, ha.password),
        "bridge": Login(credentials.BRIDGE_USER, auth.bridge_password),
    }
    world = World(
        broker.url, runtime, broker, session_factory, car_a, car_b, car_b_id, customer_a, customer_b, logins
    )
    try:
        runtime.start()
        world.ready()
        yield world
    finally:
        for client in world.peers:
            client.disconnect()
        runtime.stop()


def test_anonymous_clients_and_wrong_secrets_are_refused(world: World) -> None:
    with pytest.raises(MqttError, match="refused"):
        world.connect(None)
    with pytest.raises(MqttError, match="refused"):
        world.connect(Login(world.logins["a"].username, "not-the-secret"))
    with pytest.raises(MqttError, match="refused"):
        world.connect(Login(world.logins["a"].username, world.logins["b"].password))
    world.connect(world.logins["a"])  # the secret handed out for the car is the one that works


def test_a_car_publishes_only_under_its_own_topics(world: World) -> None:
    car_a = world.connect(world.logins["a"])
    car_b = world.peer(world.logins["b"], command_topic(world.car_b))
    bridge = world.runtime.bridge
    assert bridge is not None
    car_a.publish_confirmed(state_topic(world.car_b), json.dumps({"ts": 1.0, **EXACT, "locked": False}))
    car_a.publish_confirmed(availability_topic(world.car_b), "offline")
    world.settle(car_a, world.car_a, car_b)
    assert "latitude" not in bridge.engine.states.get(world.car_b, {})  # the forged state never arrived
    assert bridge.engine.states[world.car_a].get("token")  # while its own did


def test_nobody_unlocks_another_car_through_its_home_assistant_topic(world: World) -> None:
    car_b = world.peer(world.logins["b"], command_topic(world.car_b))
    bridge = world.runtime.bridge
    assert bridge is not None
    unlock = json.dumps({"command": "unlock"})
    for attacker in ("a", "ha_a"):
        client = world.connect(world.logins[attacker])
        client.publish_confirmed(ha_command_topic(world.car_b), unlock)
        direct = json.dumps({"id": "x", "command": "unlock", "args": {}, "issued_at": 0, "expires_at": 9e9})
        client.publish_confirmed(command_topic(world.car_b), direct)
    car_a = world.connect(world.logins["a"])
    before = world.settle(car_a, world.car_a, car_b)
    assert [json.loads(p)["command"] for _, p in before] == []
    # the owner's own Home Assistant still unlocks the owner's own car through the bridge
    car_a_listens = world.peer(world.logins["a"], command_topic(world.car_a))
    world.connect(world.logins["ha_a"]).publish_confirmed(ha_command_topic(world.car_a), unlock)
    wait_for(lambda: any(json.loads(p)["command"] == "unlock" for _, p in car_a_listens.seen()))


def test_a_car_and_a_home_assistant_read_nothing_of_another_owner(world: World) -> None:
    car_b = world.connect(world.logins["b"])
    car_b.publish_confirmed(state_topic(world.car_b), json.dumps({"ts": 1.0, **EXACT}))  # retained
    bridge = world.runtime.bridge
    assert bridge is not None
    wait_for(lambda: bridge.engine.states.get(world.car_b, {}).get("latitude"))
    spies = {}
    for who, marker in (("a", command_topic(world.car_a)), ("ha_a", f"{owner_topic(world.customer_a)}/#")):
        spy = Peer(world.connect(world.logins[who]))
        for pattern in ("#", "carloop/v1/+/+/state", state_topic(world.car_b), ha_state_topic(world.car_b)):
            spy.listen(pattern)  # amqtt refuses these subscriptions; Mosquitto filters every message
        spy.listen(marker)
        spies[who] = spy
    car_b.publish_confirmed(state_topic(world.car_b), json.dumps({"ts": 2.0, **EXACT}))
    wait_for(lambda: bridge.engine.states[world.car_b].get("ts") == 2.0)
    token = uuid.uuid4().hex
    world.runtime.send(world.car_a, "ping", {"token": token}, source="test")
    bridge.client.publish(f"{owner_topic(world.customer_a)}/marker", token, qos=1)
    for spy in spies.values():
        topics = [t for t, _ in before(spy, token)]
        assert [t for t in topics if f"/{world.car_b.split('.')[1]}/" in t] == []


def test_a_last_will_on_another_cars_topic_never_fires(world: World) -> None:
    car_b = world.peer(world.logins["b"], command_topic(world.car_b))
    evil = (ha_command_topic(world.car_b), json.dumps({"command": "unlock"}))
    try:
        client = world.connect(world.logins["a"], will=evil)
    except MqttError:
        pass  # refused at connect (amqtt): the will is never accepted
    else:
        sock = client._client.socket()  # vanish without DISCONNECT: the broker must not send the will
        assert isinstance(sock, socket.socket)
        sock.shutdown(socket.SHUT_RDWR)
        world.peers.remove(client)
        client._client.loop_stop()
    car_a = world.connect(world.logins["a"])
    before = world.settle(car_a, world.car_a, car_b)
    assert [json.loads(p)["command"] for _, p in before] == []


def test_an_unpaired_car_is_locked_out_and_a_new_secret_replaces_the_old(world: World) -> None:
    world.connect(world.logins["b"])
    with world.session_factory.begin() as session:
        reissued = service.issue_device_credentials(
            session=session, customer_id=world.customer_b, device_id=world.car_b_id
        )
    world.runtime.reload()

    def refused(login: Login) -> bool:
        try:
            client = world.connect(login)
        except MqttError:
            return True
        client.disconnect()
        world.peers.remove(client)
        return False

    wait_for(lambda: refused(world.logins["b"]))  # the old secret stops working
    world.connect(Login(reissued.username, reissued.secret))
    with world.session_factory.begin() as session:
        service.unpair(session=session, customer_id=world.customer_b, device_id=world.car_b_id)
    world.runtime.reload()
    wait_for(lambda: refused(Login(reissued.username, reissued.secret)))


def test_the_demo_runtime_starts_its_broker_closed_to_strangers(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    """``start`` without a broker URL: the embedded broker with carloop's files, the bridge and the
    simulated fleet logged in, a stranger refused, a paired car's own secret accepted."""
    demo = settings.model_copy(
        update={
            "ecosystem": "on",
            "mqtt_url": "",
            "mqtt_embedded_port": free_port(),
            "ecosystem_simulate": True,
            "reload_interval": 0,
        }
    )
    with session_factory.begin() as session:
        _, car, _, login = _car_with_credentials(session, "13800138021", 8201)
    runtime = start(demo, session_factory)
    assert runtime is not None and runtime.broker is not None and runtime.fleet is not None
    try:
        url = runtime.broker.url
        with pytest.raises(MqttError, match="refused"):
            PahoClient(url).connect(timeout=5)
        client = PahoClient(url.replace("mqtt://", f"mqtt://{login.username}:{login.password}@"))
        client.connect(timeout=5)
        client.disconnect()
        bridge = runtime.bridge
        assert bridge is not None
        fleet = runtime.fleet
        wait_for(lambda: car in fleet.cars)

        def heard() -> bool:
            fleet.publish(car)  # the simulator's login may speak for the car
            time.sleep(0.05)
            return "battery" in bridge.engine.states.get(car, {})

        wait_for(heard)
    finally:
        runtime.stop()

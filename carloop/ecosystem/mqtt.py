"""The one MQTT adapter (paho-mqtt 2) and an in-memory fake with the same contract for unit tests."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlparse

from carloop.ecosystem.rules import topic_matches

OnMessage = Callable[[str, bytes], None]
SUBSCRIBE_BATCH = 500  # topics per SUBSCRIBE / UNSUBSCRIBE packet
QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class MqttError(RuntimeError):
    """The broker could not be reached or refused us."""


class MqttClient(Protocol):
    """What the bridge, simulator and benchmark need from an MQTT client."""

    def connect(self) -> None: ...
    def publish(self, topic: str, payload: str | bytes, *, qos: int = 0, retain: bool = False) -> None: ...
    def subscribe(self, pattern: str, callback: OnMessage, *, qos: int = 0) -> None: ...
    def subscribe_many(self, topics: Sequence[str], callback: OnMessage, *, qos: int = 0) -> None: ...
    def unsubscribe(self, patterns: Sequence[str]) -> None: ...
    def disconnect(self) -> None: ...


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None


def parse_url(url: str) -> BrokerAddress:
    """``mqtt://user:pass@host:1883`` as an address."""
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "tcp", ""):
        raise ValueError(f"unsupported MQTT URL scheme {parsed.scheme!r}")
    return BrokerAddress(
        parsed.hostname or "127.0.0.1", parsed.port or 1883, parsed.username, parsed.password
    )


class PahoClient:
    """A paho-mqtt client running its network loop in a background thread."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str = "",
        will: tuple[str, str] | None = None,
        on_connect: Callable[[], None] | None = None,
        keepalive: int = 30,
        max_inflight: int = 0,
    ) -> None:
        import paho.mqtt.client as paho

        self.address = parse_url(url)
        self.keepalive = keepalive  # the broker publishes the will after 1.5x this without a packet
        self._client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311
        )
        if self.address.username:
            self._client.username_pw_set(self.address.username, self.address.password)
        if will is not None:
            self._client.will_set(will[0], will[1], qos=1, retain=True)
        # QoS 1 messages sent before the broker's PUBACKs (0: no limit). Any limit queues a burst (the
        # bridge's discovery configs, 10 per car, at start and whenever Home Assistant restarts) inside
        # paho, with the device commands published after it at the back of that queue, and paho scans
        # the whole queue on every PUBACK: with a limit of 1,000 and 2,000 cars a command waited 3.0 s
        # for its PUBACK behind the 20,000 configs (0.12 s unlimited) at twice the CPU (paho's default
        # of 20 was worse still). Unlimited, every publish goes to the socket at once, in order.
        self._client.max_inflight_messages_set(max_inflight)
        self._routes: list[tuple[str, int, OnMessage]] = []  # filters with wildcards
        self._exact: dict[str, tuple[int, OnMessage]] = {}  # one topic each (a sharded bridge's cars)
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._answered = threading.Event()
        self.refused: str = ""  # the broker's reason when it refused the login
        self._user_on_connect = on_connect
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe  # type: ignore[assignment]
        self._sockets: list[socket.socket] = []  # every socket paho opened, closed if the login fails
        self._client.on_socket_open = self._on_socket_open
        self._acks: dict[int, threading.Event] = {}
        self._granted: dict[int, bool] = {}

    def _on_socket_open(self, client: object, userdata: object, sock: object) -> None:
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sockets.append(sock)

    def _quick_ack(self) -> None:
        """Acknowledge what arrived at once instead of after Linux's delayed-ACK timer (>= 40 ms).

        A broker with Nagle's algorithm on (Mosquitto's default: ``set_tcp_nodelay false``) holds its
        next small send until the previous one is acknowledged, so a receiver's delayed ACK became
        the median latency of every message through it. Linux drops quick-ACK mode again after a
        while, so it is set again after each message (one cheap setsockopt)."""
        if QUICKACK is None:
            return
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)

    def _no_delay(self) -> None:
        """Send small messages at once (paho leaves Nagle's algorithm on; it costs tens of ms)."""
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(
        self, client: object, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        if getattr(reason, "is_failure", False):  # bad login, or not authorised: no retry loop
            self.refused = str(reason)
            self._client.disconnect()
            self._answered.set()
            return
        self._no_delay()
        with self._lock:
            routes = [(pattern, qos) for pattern, qos, _ in self._routes]
            routes += [(topic, qos) for topic, (qos, _) in self._exact.items()]
        for start in range(0, len(routes), SUBSCRIBE_BATCH):  # re-subscribe after a reconnect
            self._client.subscribe(routes[start : start + SUBSCRIBE_BATCH])
        self._connected.set()
        self._answered.set()
        if self._user_on_connect is not None:
            self._user_on_connect()

    def _on_subscribe(
        self, client: object, userdata: object, mid: int, reasons: list[object], props: object
    ) -> None:
        granted = not any(getattr(reason, "is_failure", False) for reason in reasons)
        with self._lock:
            self._granted[mid] = granted
            event = self._acks.setdefault(mid, threading.Event())
        event.set()

    def subscribe_confirmed(
        self, pattern: str, callback: OnMessage, *, qos: int = 0, timeout: float = 10.0
    ) -> bool:
        """Subscribe and wait for the broker's answer; whether it granted the subscription."""
        with self._lock:
            self._routes.append((pattern, qos, callback))
        _, sent = self._client.subscribe(pattern, qos)
        if sent is None:
            raise MqttError(f"could not send the subscription to {pattern}")
        mid = sent
        with self._lock:
            event = self._acks.setdefault(mid, threading.Event())
        if not event.wait(timeout):
            raise MqttError(f"the broker did not answer the subscription to {pattern}")
        with self._lock:
            self._acks.pop(mid, None)
            return self._granted.pop(mid, False)

    def _on_publish(
        self, client: object, userdata: object, mid: object, reason: object, props: object
    ) -> None:
        # A QoS 1 publish's PUBACK is a packet too: left to the delayed-ACK timer, it holds the broker's
        # next send (a command, or the next state) for up to 40 ms behind Nagle's algorithm.
        self._quick_ack()

    def _on_message(self, client: object, userdata: object, message: object) -> None:
        self._quick_ack()
        topic: str = message.topic  # type: ignore[attr-defined]
        payload: bytes = message.payload  # type: ignore[attr-defined]
        with self._lock:
            routes = list(self._routes)
            exact = self._exact.get(topic)
        if exact is not None:
            exact[1](topic, payload)
        for pattern, _, callback in routes:
            if topic_matches(pattern, topic):
                callback(topic, payload)

    def connect(self, timeout: float = 10.0) -> None:
        """Connect and start the network thread; MqttError if the broker does not answer."""
        try:
            self._client.connect(self.address.host, self.address.port, keepalive=self.keepalive)
        except OSError as err:
            raise MqttError(
                f"cannot reach MQTT broker {self.address.host}:{self.address.port}: {err}"
            ) from err
        self._no_delay()
        self._client.loop_start()
        self._answered.wait(timeout)
        if not self._connected.is_set():
            self._client.disconnect()
            self._client.loop_stop()
            with self._lock:  # paho's thread may have opened another socket (a retry) before it stopped
                opened, self._sockets = self._sockets, []
            for sock in opened:
                sock.close()
            if self.refused:
                raise MqttError(f"the MQTT broker refused the login: {self.refused}")
            raise MqttError("the MQTT broker did not accept the connection")

    def publish(self, topic: str, payload: str | bytes, *, qos: int = 0, retain: bool = False) -> None:
        """Queue a message for the broker."""
        self._client.publish(topic, payload, qos=qos, retain=retain)

    def publish_confirmed(self, topic: str, payload: str | bytes, *, timeout: float = 10.0) -> None:
        """Publish at QoS 1 and wait until the broker acknowledged it (it has routed the message, or
        refused it: a broker does not tell a 3.1.1 client that it dropped a forbidden publish)."""
        info = self._client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise MqttError(f"the broker did not acknowledge a message on {topic}")

    def subscribe(self, pattern: str, callback: OnMessage, *, qos: int = 0) -> None:
        """Receive messages matching ``pattern`` (callbacks run on the network thread)."""
        with self._lock:
            self._routes.append((pattern, qos, callback))
        if self._connected.is_set():
            self._client.subscribe(pattern, qos)

    def subscribe_many(self, topics: Sequence[str], callback: OnMessage, *, qos: int = 0) -> None:
        """Receive messages on these exact topics (no wildcards), a few hundred per SUBSCRIBE packet;
        a message is routed by one dict look-up, however many topics there are."""
        with self._lock:
            new = [t for t in topics if t not in self._exact]
            for topic in new:
                self._exact[topic] = (qos, callback)
        if self._connected.is_set():
            for start in range(0, len(new), SUBSCRIBE_BATCH):
                self._client.subscribe([(t, qos) for t in new[start : start + SUBSCRIBE_BATCH]])

    def unsubscribe(self, patterns: Sequence[str]) -> None:
        """Stop receiving these topics or filters (messages already on their way may still arrive)."""
        wanted = set(patterns)
        with self._lock:
            for topic in wanted:
                self._exact.pop(topic, None)
            self._routes = [r for r in self._routes if r[0] not in wanted]
        chosen = sorted(wanted)
        for start in range(0, len(chosen), SUBSCRIBE_BATCH):
            self._client.unsubscribe(chosen[start : start + SUBSCRIBE_BATCH])

    def disconnect(self) -> None:
        """Disconnect cleanly (no last will) and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()


class FakeBroker:
    """An in-memory broker: retained messages, wildcards, last wills; delivery is synchronous."""

    def __init__(self) -> None:
        self.retained: dict[str, bytes] = {}
        self.clients: list[FakeClient] = []
        self.log: list[tuple[str, bytes, bool]] = []

    def client(self, will: tuple[str, str] | None = None) -> FakeClient:
        """A new client of this broker."""
        return FakeClient(self, will)

    def deliver(self, topic: str, payload: bytes, retain: bool) -> None:
        """Route a message to every matching subscription."""
        self.log.append((topic, payload, retain))
        if retain:
            if payload:
                self.retained[topic] = payload
            else:
                self.retained.pop(topic, None)
        for client in list(self.clients):
            for pattern, callback in list(client.routes):
                if topic_matches(pattern, topic):
                    callback(topic, payload)


class FakeClient:
    """A client of ``FakeBroker``; ``drop()`` simulates a lost connection (the will is published)."""

    def __init__(self, broker: FakeBroker, will: tuple[str, str] | None) -> None:
        self.broker, self.will = broker, will
        self.routes: list[tuple[str, OnMessage]] = []

    def connect(self) -> None:
        """Join the broker."""
        self.broker.clients.append(self)

    def publish(self, topic: str, payload: str | bytes, *, qos: int = 0, retain: bool = False) -> None:
        """Deliver now."""
        data = payload.encode() if isinstance(payload, str) else payload
        self.broker.deliver(topic, data, retain)

    def subscribe(self, pattern: str, callback: OnMessage, *, qos: int = 0) -> None:
        """Receive matching messages, retained ones first."""
        self.routes.append((pattern, callback))
        for topic, payload in list(self.broker.retained.items()):
            if topic_matches(pattern, topic):
                callback(topic, payload)

    def subscribe_many(self, topics: Sequence[str], callback: OnMessage, *, qos: int = 0) -> None:
        """Receive messages on these exact topics."""
        for topic in topics:
            self.subscribe(topic, callback, qos=qos)

    def unsubscribe(self, patterns: Sequence[str]) -> None:
        """Stop receiving these topics or filters."""
        wanted = set(patterns)
        self.routes = [r for r in self.routes if r[0] not in wanted]

    def disconnect(self) -> None:
        """Leave cleanly."""
        if self in self.broker.clients:
            self.broker.clients.remove(self)

    def drop(self) -> None:
        """Vanish without a clean disconnect: the broker publishes the last will."""
        self.disconnect()
        if self.will is not None:
            self.broker.deliver(self.will[0], self.will[1].encode(), True)

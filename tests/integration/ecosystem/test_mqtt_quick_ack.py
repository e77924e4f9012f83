"""Against the real broker: the client acknowledges every packet it reads at once, PUBACKs included.

A broker with Nagle's algorithm on (Mosquitto's default) holds its next small send until the last one is
acknowledged. A client that publishes at QoS 1 in answer to what it receives (the bridge) is in Linux's
interactive ("pingpong") mode, where the kernel delays ACKs for up to 40 ms hoping to piggyback them;
a PUBACK left to that timer held the broker's next state message to the bridge, which was the p99 of the
scene bench through a default Mosquitto (45 ms)."""

from __future__ import annotations

import random
import threading

from carloop.ecosystem.mqtt import PahoClient


def test_a_puback_is_acknowledged_at_once_like_a_message(mqtt_url: str) -> None:
    client = PahoClient(mqtt_url, client_id=f"carloop-test-quickack-{random.randrange(10**9)}")
    calls: list[str] = []
    original = client._quick_ack
    lock = threading.Lock()

    def counting() -> None:
        with lock:
            calls.append(threading.current_thread().name)
        original()

    client._quick_ack = counting  # type: ignore[method-assign]
    client.connect()
    try:
        for n in range(3):
            client.publish_confirmed(f"carloop-test/quickack/{n}", b"x")  # waits for the broker's PUBACK
    finally:
        client.disconnect()
    assert len(calls) >= 3  # one per PUBACK read, on paho's network thread


def test_a_burst_of_qos1_messages_is_sent_at_once_not_queued_behind_acks(mqtt_url: str) -> None:
    """A burst (the discovery configs of many cars) goes to the socket at once: none waits inside paho
    for an in-flight slot, so a device command published after it is not held behind it, and paho does
    not scan a queue of thousands on every PUBACK."""
    from paho.mqtt.client import mqtt_ms_queued

    client = PahoClient(mqtt_url, client_id=f"carloop-test-burst-{random.randrange(10**9)}")
    client.connect()
    try:
        for n in range(1500):  # more than the 1,000 in flight that carloop's clients allowed before
            client.publish(f"carloop-test/burst/{n % 10}", b"x", qos=1)
        paho = client._client
        with paho._out_message_mutex:
            queued = sum(1 for m in paho._out_messages.values() if m.state == mqtt_ms_queued)
        assert queued == 0
        last = paho.publish("carloop-test/burst/last", b"x", qos=1)
        last.wait_for_publish(30)
        assert last.is_published()
    finally:
        client.disconnect()

"""``mqtt``: a message on a topic (wildcards allowed), optionally with an exact payload.

Which topics a scene may hear (only its owner's) and how much of a device payload it sees is the
engine's business; this platform only matches.
"""

from __future__ import annotations

from carloop.ecosystem.rules import topic_matches
from carloop.ecosystem.runs import Watch
from carloop.ecosystem.scene_triggers import (
    MqttTrigger,
)
from carloop.ecosystem.triggers.host import Detach, Host

KINDS = (MqttTrigger,)


def attach(host: Host, watch: Watch) -> Detach:
    """Listen to MQTT messages."""
    return host.listen("topic", "", watch)


def matches(watch: Watch, topic: str, payload: str) -> bool:
    """Whether the message is one the trigger waits for."""
    t = watch.trigger
    assert isinstance(t, MqttTrigger)
    return topic_matches(t.topic, topic) and (t.payload is None or t.payload == payload)

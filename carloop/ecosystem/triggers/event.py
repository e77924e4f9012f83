"""``event``: an event fired by one of the owner's scenes (or the owner's app), with matching data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from carloop.ecosystem.runs import Watch
from carloop.ecosystem.scene_triggers import (
    EventTrigger,
)
from carloop.ecosystem.triggers.host import Detach, Host

KINDS = (EventTrigger,)


def attach(host: Host, watch: Watch) -> Detach:
    """Listen to the owner's events."""
    return host.listen("event", "", watch)


def on_event(
    host: Host, watch: Watch, owner_id: int, event_type: str, data: Mapping[str, Any], at: float, depth: int
) -> None:
    """Fire when the event is the owner's, of the type, and carries the wanted data."""
    t = watch.trigger
    assert isinstance(t, EventTrigger)
    if watch.owner_id != owner_id or t.event_type != event_type:
        return
    if any(str(data.get(k)) != str(v) for k, v in t.event_data.items()):
        return
    event = {"event_type": event_type, "data": dict(data)}
    host.fire(watch, {"platform": "event", "id": t.id, "event": event, "_depth": depth}, at, {})

"""``zone``: a vehicle or phone enters or leaves one of the owner's zones (optionally held ``for``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from carloop.ecosystem.runs import Watch
from carloop.ecosystem.scene_triggers import (
    ZoneTrigger,
)
from carloop.ecosystem.triggers.host import Detach, Host

KINDS = (ZoneTrigger,)


def attach(host: Host, watch: Watch) -> Detach:
    """Listen to the entity's state updates."""
    assert isinstance(watch.trigger, ZoneTrigger)
    return host.listen("entity", watch.trigger.entity_id, watch)


def on_state(
    host: Host,
    watch: Watch,
    entity_id: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    changes: Mapping[str, Any],
    zone_events: list[tuple[str, str]],
    at: float,
    cause: Mapping[str, Any],
) -> None:
    """Fire on the wanted transition of the watched zone; the opposite one cancels a pending ``for``."""
    t = watch.trigger
    assert isinstance(t, ZoneTrigger)
    for zone_id, event in zone_events:
        if zone_id != t.zone:
            continue
        tvars = {"platform": t.trigger, "id": t.id, "entity_id": entity_id, "zone": zone_id, "event": event}
        if event == t.event:
            host.held(watch, t.for_, tvars, at, cause)
        else:
            host.cancel_hold(watch)

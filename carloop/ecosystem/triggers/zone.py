"""``zone``: a vehicle or phone enters or leaves one of the owner's zones (optionally held ``for``)."""

from __future__ import annotations

from carloop.ecosystem.runs import Watch
from carloop.ecosystem.scene_triggers import (
    ZoneTrigger,
)
from carloop.ecosystem.triggers.host import Detach, Host, StateUpdate

KINDS = (ZoneTrigger,)


def attach(host: Host, watch: Watch) -> Detach:
    """Listen to the entity's state updates."""
    assert isinstance(watch.trigger, ZoneTrigger)
    return host.listen("entity", watch.trigger.entity_id, watch)


def on_state(host: Host, watch: Watch, update: StateUpdate) -> None:
    """Fire on the wanted transition of the watched zone; the opposite one cancels a pending ``for``."""
    t = watch.trigger
    assert isinstance(t, ZoneTrigger)
    for zone_id, event in update.zone_events:
        if zone_id != t.zone:
            continue
        tvars = {
            "platform": t.trigger,
            "id": t.id,
            "entity_id": update.entity_id,
            "zone": zone_id,
            "event": event,
        }
        if event == t.event:
            host.held(watch, t.for_, tvars, update.at, update.cause)
        else:
            host.cancel_hold(watch)

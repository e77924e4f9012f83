"""``proximity`` (carloop's): a car approaching a zone within a distance or an ETA, or leaving beyond one.

Fires once per approach: it re-arms when the car turns away (or moves well outside ``below_m``).
At ``zone`` precision the trigger data carries no distance; at ``km`` it is rounded to 1 km.
"""

from __future__ import annotations

from typing import Any

from carloop.ecosystem.kinds import Precision
from carloop.ecosystem.rules import as_number
from carloop.ecosystem.runs import Watch
from carloop.ecosystem.scene_triggers import (
    ProximityTrigger,
)
from carloop.ecosystem.triggers.host import Detach, Host, StateUpdate
from carloop.ecosystem.zones import DIRECTION_NOISE_M

KINDS = (ProximityTrigger,)


def attach(host: Host, watch: Watch) -> Detach:
    """Listen to the entity's state updates."""
    assert isinstance(watch.trigger, ProximityTrigger)
    return host.listen("entity", watch.trigger.entity_id, watch)


def on_state(host: Host, watch: Watch, update: StateUpdate) -> None:
    """Fire when the car's track towards (or away from) the zone crosses the threshold."""
    t = watch.trigger
    assert isinstance(t, ProximityTrigger)
    track = host.track(update.entity_id, t.zone)
    if track is None:
        return
    speed = as_number(update.new.get("speed"))  # km/h
    eta = track.distance / (speed / 3.6) if speed and speed > 0.5 else None
    if t.direction == "approaching":
        near = (t.below_m is not None and track.distance <= t.below_m) or (
            t.eta_below_s is not None and eta is not None and eta <= t.eta_below_s
        )
        hit = track.direction == "approaching" and near
        rearm = track.direction == "leaving" or (
            t.below_m is not None and track.distance > t.below_m + 2 * DIRECTION_NOISE_M
        )
    else:
        hit = track.direction == "leaving" and t.above_m is not None and track.distance >= t.above_m
        rearm = track.direction == "approaching"
    if hit and watch.armed:
        watch.armed = False
        tvars: dict[str, Any] = {
            "platform": t.trigger,
            "id": t.id,
            "entity_id": update.entity_id,
            "zone": t.zone,
            "direction": track.direction,
        }
        if watch.precision is not Precision.ZONE:
            tvars["distance_m"] = round(track.distance, -1 if watch.precision is Precision.EXACT else -3)
            tvars["eta_s"] = round(eta) if eta is not None else None
        host.fire(watch, tvars, update.at, update.cause)
    elif rearm and not hit:
        watch.armed = True

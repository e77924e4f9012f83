"""``device``: a device reports a change such as ``turned_on``, ``opened`` or ``locked``."""

from __future__ import annotations

from carloop.ecosystem.runs import Watch
from carloop.ecosystem.scene_triggers import (
    DEVICE_TRIGGER_STATES,
    DeviceTrigger,
)
from carloop.ecosystem.triggers.host import Detach, Host, StateUpdate
from carloop.ecosystem.triggers.state import changed

KINDS = (DeviceTrigger,)


def attach(host: Host, watch: Watch) -> Detach:
    """Listen to the device's state updates."""
    assert isinstance(watch.trigger, DeviceTrigger)
    return host.listen("entity", watch.trigger.device_id, watch)


def on_state(host: Host, watch: Watch, update: StateUpdate) -> None:
    """The device's ``state`` changed to the one its type names."""
    t = watch.trigger
    assert isinstance(t, DeviceTrigger)
    wanted = (None, DEVICE_TRIGGER_STATES[t.type], None)
    changed(host, watch, update, "state", wanted)

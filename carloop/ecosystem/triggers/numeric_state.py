"""``numeric_state``: a numeric attribute crosses into (above, below), optionally held ``for``."""

from __future__ import annotations

from carloop.ecosystem.rules import as_number, in_range
from carloop.ecosystem.runs import Watch
from carloop.ecosystem.scene_triggers import (
    NumericStateTrigger,
)
from carloop.ecosystem.triggers.host import Detach, Host, StateUpdate

KINDS = (NumericStateTrigger,)


def attach(host: Host, watch: Watch) -> Detach:
    """Listen to the entity's state updates."""
    assert isinstance(watch.trigger, NumericStateTrigger)
    return host.listen("entity", watch.trigger.entity_id, watch)


def on_state(host: Host, watch: Watch, update: StateUpdate) -> None:
    """Fire on the crossing into the range; leaving it cancels a pending ``for``."""
    t = watch.trigger
    assert isinstance(t, NumericStateTrigger)
    if t.attribute not in update.changes:
        return
    was = in_range(as_number(update.old.get(t.attribute)), t.above, t.below)
    now = in_range(as_number(update.new.get(t.attribute)), t.above, t.below)
    if now and not was:
        tvars = {
            "platform": t.trigger,
            "id": t.id,
            "entity_id": update.entity_id,
            "attribute": t.attribute,
            "to": update.new[t.attribute],
        }
        host.held(watch, t.for_, tvars, update.at, update.cause)
    elif not now:
        host.cancel_hold(watch)

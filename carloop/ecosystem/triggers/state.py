"""``state``: an entity's state (or an attribute) changes, optionally ``from``/``to`` values, held ``for``."""

from __future__ import annotations

from typing import Any

from carloop.ecosystem.rules import matches
from carloop.ecosystem.runs import Watch
from carloop.ecosystem.scene_triggers import StateTrigger
from carloop.ecosystem.triggers.host import Detach, Host, StateUpdate

KINDS = (StateTrigger,)


def attach(host: Host, watch: Watch) -> Detach:
    """Listen to the entity's state updates."""
    assert isinstance(watch.trigger, StateTrigger)
    return host.listen("entity", watch.trigger.entity_id, watch)


def changed(
    host: Host, watch: Watch, update: StateUpdate, attribute: str, wanted: tuple[Any, Any, float | None]
) -> None:
    """Fire (or start the ``for``) when ``attribute`` changes as wanted: (from, to, for)."""
    if attribute not in update.changes:
        return
    before, after = update.old.get(attribute), update.new.get(attribute)
    if before == after:
        return
    wanted_from, wanted_to, held_for = wanted
    ok = (wanted_from is None or matches(wanted_from, before)) and (
        wanted_to is None or matches(wanted_to, after)
    )
    t = watch.trigger
    tvars = {
        "platform": t.trigger,
        "id": t.id,
        "entity_id": update.entity_id,
        "attribute": attribute,
        "from": before,
        "to": after,
    }
    if ok:
        host.held(watch, held_for, tvars, update.at, update.cause)
    else:
        host.cancel_hold(watch)


def on_state(host: Host, watch: Watch, update: StateUpdate) -> None:
    """A state update of the watched entity."""
    t = watch.trigger
    assert isinstance(t, StateTrigger)
    changed(host, watch, update, t.attribute, (t.from_, t.to, t.for_))

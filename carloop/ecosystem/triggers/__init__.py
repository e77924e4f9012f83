"""Trigger platforms, one small module each, after Home Assistant's ``homeassistant/components/*/trigger.py``.

Each platform module has the same contract:

- ``KINDS``: the trigger schema classes it handles;
- ``attach(host, watch) -> detach``: start listening (put the watch where its input arrives);
  the returned function stops it;
- a handler for its input: ``on_state(host, watch, update)`` (a ``StateUpdate`` of the watched
  entity), ``on_message``
  (MQTT), ``on_event`` (events of the owner's scenes) or ``hit`` (the clock moved from ``start``
  to ``end``: the first matching instant, if any).

Handlers are pure functions of the trigger, the watch's memory and what arrived; they fire through
the ``Host`` (``host.py``; the engine is it), which applies debounce, ``for`` durations and the
scene's mode. Adding a platform is one module here plus its schema class in ``schemas.py``.
"""

from __future__ import annotations

from types import ModuleType


def platforms() -> dict[type, ModuleType]:
    """Trigger schema class -> the platform module that handles it."""
    from carloop.ecosystem.triggers import (
        device,
        event,
        mqtt,
        numeric_state,
        proximity,
        state,
        sun,
        time,
        time_pattern,
        zone,
    )

    return {
        kind: module
        for module in (zone, proximity, state, device, numeric_state, time, time_pattern, mqtt, event, sun)
        for kind in module.KINDS
    }

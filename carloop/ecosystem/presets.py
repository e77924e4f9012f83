"""The four preset scenes, filled in with the owner's car, phone, home and devices, and named (and their
notifications worded) in the owner's language."""

from __future__ import annotations

from typing import Any

from carloop.messages import translate_message

PRESETS = ("coming_home", "leaving_home", "navigation_handoff", "low_battery")


def preset(
    name: str,
    *,
    vehicle: str,
    zone: str = "zone.home",
    phone: str | None = None,
    devices: list[str] | None = None,
    lock: str | None = None,
    destination: dict[str, Any] | None = None,
    locale: str = "en",
) -> dict[str, Any]:
    """A preset's definition (Home Assistant automation form) for the given entities, in ``locale``."""
    devices = devices or []

    def _(text: str) -> str:
        return translate_message(locale, text)

    if name == "coming_home":
        return {
            "alias": _("Coming home"),
            "description": _("The car approaching home turns on the air conditioning and lights."),
            "mode": "single",
            "precision": "zone",
            "triggers": [{"trigger": "zone", "entity_id": vehicle, "zone": zone, "event": "enter"}],
            "actions": [
                {"action": "carloop.command", "target": {"entity_id": d}, "data": {"command": "turn_on"}}
                for d in devices
            ]
            or [{"action": "carloop.notify", "data": {"message": _("Welcome home")}}],
        }
    if name == "leaving_home":
        actions: list[dict[str, Any]] = []
        if lock:
            actions.append(
                {"action": "carloop.command", "target": {"entity_id": lock}, "data": {"command": "lock"}}
            )
        actions += [
            {"action": "carloop.command", "target": {"entity_id": d}, "data": {"command": "turn_off"}}
            for d in devices
        ]
        actions.append(
            {
                "action": "carloop.command",
                "target": {"entity_id": vehicle},
                "data": {"command": "set_climate", "args": {"temperature": 22}},
            }
        )
        return {
            "alias": _("Leaving home"),
            "description": _("The phone leaving home locks the door and pre-conditions the car."),
            "mode": "single",
            "precision": "zone",
            "triggers": [{"trigger": "zone", "entity_id": phone or vehicle, "zone": zone, "event": "leave"}],
            "actions": actions,
        }
    if name == "navigation_handoff":
        dest = destination or {"latitude": 31.2304, "longitude": 121.4737, "name": _("People's Square")}
        return {
            "alias": _("Navigation handoff"),
            "description": _("A destination chosen on the phone goes to the car when the owner gets in."),
            "mode": "restart",
            "precision": "exact",
            "triggers": [{"trigger": "state", "entity_id": vehicle, "attribute": "locked", "to": False}],
            "actions": [
                {"action": "carloop.send_destination", "target": {"entity_id": vehicle}, "data": dest}
            ],
        }
    if name == "low_battery":
        return {
            "alias": _("Low battery: charge at home"),
            "description": _("Remind the owner to charge when the car reaches home with a low battery."),
            "mode": "single",
            "precision": "zone",
            "triggers": [{"trigger": "zone", "entity_id": vehicle, "zone": zone, "event": "enter"}],
            "conditions": [
                {"condition": "numeric_state", "entity_id": vehicle, "attribute": "battery", "below": 30}
            ],
            "actions": [
                {
                    "action": "carloop.notify",
                    "data": {"message": _("Battery is low: plug in at home tonight.")},
                }
            ],
        }
    raise KeyError(name)

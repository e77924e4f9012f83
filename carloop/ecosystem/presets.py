"""The four preset scenes, filled in with the owner's car, phone, home and devices."""

from __future__ import annotations

from typing import Any

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
) -> dict[str, Any]:
    """A preset's definition (Home Assistant automation form) for the given entities."""
    devices = devices or []
    if name == "coming_home":
        return {
            "alias": "Coming home",
            "description": "The car approaching home turns on the air conditioning and lights.",
            "mode": "single",
            "precision": "zone",
            "triggers": [{"trigger": "zone", "entity_id": vehicle, "zone": zone, "event": "enter"}],
            "actions": [
                {"action": "carloop.command", "target": {"entity_id": d}, "data": {"command": "turn_on"}}
                for d in devices
            ]
            or [{"action": "carloop.notify", "data": {"message": "Welcome home"}}],
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
            "alias": "Leaving home",
            "description": "The phone leaving home locks the door and pre-conditions the car.",
            "mode": "single",
            "precision": "zone",
            "triggers": [{"trigger": "zone", "entity_id": phone or vehicle, "zone": zone, "event": "leave"}],
            "actions": actions,
        }
    if name == "navigation_handoff":
        dest = destination or {"latitude": 31.2304, "longitude": 121.4737, "name": "People's Square"}
        return {
            "alias": "Navigation handoff",
            "description": "A destination chosen on the phone goes to the car when the owner gets in.",
            "mode": "restart",
            "precision": "exact",
            "triggers": [{"trigger": "state", "entity_id": vehicle, "attribute": "locked", "to": False}],
            "actions": [
                {"action": "carloop.send_destination", "target": {"entity_id": vehicle}, "data": dest}
            ],
        }
    if name == "low_battery":
        return {
            "alias": "Low battery: charge at home",
            "description": "Remind the owner to charge when the car reaches home with a low battery.",
            "mode": "single",
            "precision": "zone",
            "triggers": [{"trigger": "zone", "entity_id": vehicle, "zone": zone, "event": "enter"}],
            "conditions": [
                {"condition": "numeric_state", "entity_id": vehicle, "attribute": "battery", "below": 30}
            ],
            "actions": [
                {"action": "carloop.notify", "data": {"message": "Battery is low: plug in at home tonight."}}
            ],
        }
    raise KeyError(name)

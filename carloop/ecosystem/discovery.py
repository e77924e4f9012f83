"""Home Assistant MQTT discovery for a car, and the privacy-filtered state those entities read."""

from __future__ import annotations

import json
from typing import Any

from carloop import __version__
from carloop.ecosystem.models import Precision
from carloop.ecosystem.protocol import (
    BRIDGE_STATUS,
    DISCOVERY_PREFIX,
    availability_topic,
    ha_command_topic,
    ha_state_topic,
)
from carloop.ecosystem.rules import redact

ORIGIN = {"name": "carloop", "sw_version": __version__, "support_url": "https://github.com/carloop/carloop"}


def vehicle_configs(
    entity_id: str, *, name: str, model: str = "", home_zone: str = "zone.home"
) -> dict[str, dict[str, Any]]:
    """Discovery topic -> config payload for every entity of one car (publish retained)."""
    node = entity_id.replace(".", "_")
    state = ha_state_topic(entity_id)
    command = ha_command_topic(entity_id)
    device = {
        "identifiers": [f"carloop_{node}"],
        "name": name,
        "manufacturer": "carloop",
        "model": model or "EV",
    }
    common: dict[str, Any] = {
        "device": device,
        "origin": ORIGIN,
        "availability": [
            {"topic": availability_topic(entity_id)},
            {"topic": BRIDGE_STATUS},
        ],
        "availability_mode": "all",
    }
    home = home_zone.removeprefix("zone.")

    def entity(component: str, object_id: str, label: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        topic = f"{DISCOVERY_PREFIX}/{component}/{node}/{object_id}/config"
        return topic, {"name": label, "unique_id": f"carloop_{node}_{object_id}", **common, **fields}

    items = [
        entity(
            "device_tracker",
            "location",
            "Location",
            state_topic=state,
            value_template="{{ 'home' if '" + home + "' in value_json.zones else 'not_home' }}",
            json_attributes_topic=state,
            json_attributes_template="{{ value_json.gps | tojson }}",
            source_type="gps",
        ),
        entity(
            "sensor",
            "battery",
            "Battery",
            state_topic=state,
            value_template="{{ value_json.battery }}",
            device_class="battery",
            unit_of_measurement="%",
            state_class="measurement",
        ),
        entity(
            "sensor",
            "range",
            "Range",
            state_topic=state,
            value_template="{{ value_json.range_km }}",
            device_class="distance",
            unit_of_measurement="km",
            state_class="measurement",
        ),
        entity(
            "binary_sensor",
            "charging",
            "Charging",
            state_topic=state,
            value_template="{{ 'ON' if value_json.charging else 'OFF' }}",
            device_class="battery_charging",
        ),
        entity(
            "binary_sensor",
            "doors",
            "Doors",
            state_topic=state,
            value_template="{{ 'ON' if value_json.doors_open else 'OFF' }}",
            device_class="door",
        ),
        entity(
            "lock",
            "lock",
            "Lock",
            state_topic=state,
            value_template="{{ 'LOCKED' if value_json.locked else 'UNLOCKED' }}",
            command_topic=command,
            command_template='{"command": "{{ value | lower }}"}',
            payload_lock="LOCK",
            payload_unlock="UNLOCK",
            state_locked="LOCKED",
            state_unlocked="UNLOCKED",
        ),
        entity(
            "climate",
            "climate",
            "Cabin climate",
            modes=["off", "auto", "cool", "heat"],
            mode_state_topic=state,
            mode_state_template="{{ value_json.climate }}",
            mode_command_topic=command,
            mode_command_template='{"command": "set_climate", "args": {"mode": "{{ value }}"}}',
            temperature_state_topic=state,
            temperature_state_template="{{ value_json.target_temp }}",
            temperature_command_topic=command,
            temperature_command_template='{"command": "set_climate", "args": {"temperature": {{ value }}}}',
            current_temperature_topic=state,
            current_temperature_template="{{ value_json.cabin_temp }}",
            min_temp=16,
            max_temp=30,
            temp_step=0.5,
            temperature_unit="C",
        ),
        entity(
            "device_tracker",
            "destination",
            "Navigation destination",
            state_topic=state,
            value_template="{{ 'set' if value_json.destination else 'none' }}",
            json_attributes_topic=state,
            json_attributes_template="{{ (value_json.destination or {}) | tojson }}",
            source_type="gps",
        ),
        entity(
            "text",
            "send_destination",
            "Send destination",
            command_topic=command,
            command_template='{"command": "navigate", "args": {"text": {{ value | tojson }}}}',
            min=0,
            max=120,
            pattern=r"^-?\d+(\.\d+)?,\s*-?\d+(\.\d+)?(,.*)?$",
            mode="text",
        ),
    ]
    return dict(items)


def ha_state(state: dict[str, Any], precision: Precision, zones_inside: list[str]) -> str:
    """The JSON the car's Home Assistant entities read, with location cut to ``precision``."""
    visible = redact(state, precision, zones_inside)
    gps: dict[str, Any] = {}
    if "latitude" in visible and "longitude" in visible:
        gps = {"latitude": visible["latitude"], "longitude": visible["longitude"]}
        if precision is Precision.KM:
            gps["gps_accuracy"] = 1000
        elif "accuracy" in visible:
            gps["gps_accuracy"] = visible["accuracy"]
    destination = state.get("destination") if precision is Precision.EXACT else None
    body = {
        "zones": [z.removeprefix("zone.") for z in zones_inside],
        "gps": gps,
        "battery": state.get("battery"),
        "range_km": state.get("range_km"),
        "charging": bool(state.get("charging")),
        "doors_open": bool(state.get("doors_open")),
        "locked": bool(state.get("locked", True)),
        "climate": state.get("climate", "off"),
        "target_temp": state.get("target_temp", 22),
        "cabin_temp": state.get("cabin_temp"),
        "destination": destination,
    }
    return json.dumps(body, separators=(",", ":"))


def parse_ha_command(payload: bytes) -> tuple[str, dict[str, Any]]:
    """A Home Assistant entity's command as (command, args); ValueError if it is not one we accept."""
    body = json.loads(payload)
    command = body.get("command") if isinstance(body, dict) else None
    args = body.get("args") or {}
    if command not in ("lock", "unlock", "set_climate", "navigate") or not isinstance(args, dict):
        raise ValueError(f"unsupported command from Home Assistant: {command!r}")
    if command == "navigate" and "text" in args:
        parts = [p.strip() for p in str(args["text"]).split(",", 2)]
        lat, lon = float(parts[0]), float(parts[1])
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError("destination out of range")
        args = {"latitude": lat, "longitude": lon, "name": parts[2] if len(parts) > 2 else ""}
    return str(command), args

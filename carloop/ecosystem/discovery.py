"""Home Assistant MQTT discovery for a car, and the privacy-filtered state those entities read.

Every entity is checked against Home Assistant's own MQTT discovery schema in the real-HA test
(``tests/integration/ecosystem/test_home_assistant.py``). Names follow the owner's language; the
``unique_id``s never change, so renaming a car or switching language never duplicates an entity.

What the entities read (``ha/state``), per the precision the owner shares with Home Assistant:

- ``location`` (the tracker's state, also alone on ``ha/location``, and the Zone sensor's state):
  ``home`` inside the home zone, another carloop zone's name inside that zone, else ``not_home``;
  at every precision.
- ``attributes``: ``zones`` always; ``latitude``/``longitude``/``gps_accuracy`` at ``km`` (rounded,
  accuracy 1 km) and ``exact``. With coordinates Home Assistant places the tracker in its own zones.
- ``destination``: the navigation destination's name at ``km`` and ``exact``; at ``zone`` only the
  zone it lies in (or ``not_home``); ``None`` (unknown) without one. Its coordinates only at ``exact``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from carloop import __version__
from carloop.ecosystem.models import Precision
from carloop.ecosystem.protocol import (
    BRIDGE_STATUS,
    DISCOVERY_PREFIX,
    availability_topic,
    ha_command_topic,
    ha_location_topic,
    ha_state_topic,
)
from carloop.ecosystem.rules import Zone, distance_m, redact

ORIGIN = {"name": "carloop", "sw_version": __version__, "support_url": "https://github.com/carloop/carloop"}
HOME, NOT_HOME, NONE = "home", "not_home", "None"  # "None" is Home Assistant's "unknown" payload

# object id -> English name (the msgid; zh-CN comes from carloop/locale/*/ecosystem.po)
NAMES = {
    "location": "Location",
    "zone": "Zone",
    "battery": "Battery",
    "range": "Range",
    "charging": "Charging",
    "doors": "Doors",
    "lock": "Lock",
    "climate": "Cabin climate",
    "destination": "Navigation destination",
    "send_destination": "Send destination",
}


def entity_names(language: str) -> dict[str, str]:
    """Every entity's name in ``language`` (``zh_CN`` or ``en``)."""
    from carloop.web.i18n import translations

    gettext = translations(language if language in ("zh_CN", "en") else "en").gettext
    return {object_id: gettext(msgid) for object_id, msgid in NAMES.items()}


def vehicle_configs(
    entity_id: str, *, name: str, model: str = "", language: str = "en", bridge_status: str = BRIDGE_STATUS
) -> dict[str, dict[str, Any]]:
    """Discovery topic -> config payload for every entity of one car (publish retained);
    ``bridge_status``: the availability topic of the bridge serving the car."""
    node = entity_id.replace(".", "_")
    state = ha_state_topic(entity_id)
    command = ha_command_topic(entity_id)
    labels = entity_names(language)
    device = {
        "identifiers": [f"carloop_{node}"],
        "name": name,
        "manufacturer": "carloop",
        "model": model or "EV",
    }
    common: dict[str, Any] = {
        "device": device,
        "origin": ORIGIN,
        # unavailable when the car is gone (its will or clean stop) or the bridge serving it is
        "availability": [
            {"topic": availability_topic(entity_id)},
            {"topic": bridge_status},
        ],
        "availability_mode": "all",
    }

    def entity(component: str, object_id: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        topic = f"{DISCOVERY_PREFIX}/{component}/{node}/{object_id}/config"
        unique_id = f"carloop_{node}_{object_id}"
        return topic, {
            "name": labels[object_id],
            "unique_id": unique_id,
            # the entity id HA derives (stable whatever the name's language)
            "object_id": unique_id,
            **common,
            **fields,
        }

    items = [
        entity(
            "device_tracker",
            "location",
            state_topic=ha_location_topic(entity_id),  # the plain zone name: no template (see protocol)
            payload_home=HOME,
            payload_not_home=NOT_HOME,
            json_attributes_topic=state,
            json_attributes_template="{{ value_json.attributes | tojson }}",
            source_type="gps",
        ),
        entity(
            "sensor",
            "zone",
            state_topic=state,
            value_template="{{ value_json.location }}",
            icon="mdi:map-marker-radius",
        ),
        entity(
            "sensor",
            "battery",
            state_topic=state,
            value_template="{{ value_json.battery }}",
            device_class="battery",
            unit_of_measurement="%",
            state_class="measurement",
        ),
        entity(
            "sensor",
            "range",
            state_topic=state,
            value_template="{{ value_json.range_km }}",
            device_class="distance",
            unit_of_measurement="km",
            state_class="measurement",
        ),
        entity(
            "binary_sensor",
            "charging",
            state_topic=state,
            value_template="{{ 'ON' if value_json.charging else 'OFF' }}",
            device_class="battery_charging",
        ),
        entity(
            "binary_sensor",
            "doors",
            state_topic=state,
            value_template="{{ 'ON' if value_json.doors_open else 'OFF' }}",
            device_class="door",
        ),
        entity(
            "lock",
            "lock",
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
            "sensor",
            "destination",
            state_topic=state,
            value_template="{{ value_json.destination }}",
            json_attributes_topic=state,
            json_attributes_template="{{ value_json.destination_attributes | tojson }}",
            icon="mdi:map-marker-path",
        ),
        entity(
            "text",
            "send_destination",
            command_topic=command,
            command_template='{"command": "navigate", "args": {"text": {{ value | tojson }}}}',
            min=0,
            max=120,
            pattern=r"^-?\d+(\.\d+)?,\s*-?\d+(\.\d+)?(,.*)?$",
            mode="text",
        ),
    ]
    return dict(items)


def retired_topics(entity_id: str) -> list[str]:
    """Discovery topics earlier versions published and this one does not (cleared with an empty payload)."""
    node = entity_id.replace(".", "_")
    return [f"{DISCOVERY_PREFIX}/device_tracker/{node}/destination/config"]


def location_state(zones_inside: list[str]) -> str:
    """The tracker's state: ``home``, another zone's name, or ``not_home``."""
    names = sorted(z.removeprefix("zone.") for z in zones_inside)
    if HOME in names:
        return HOME
    return names[0] if names else NOT_HOME


def _destination(
    destination: Any, precision: Precision, zones: Mapping[str, Zone]
) -> tuple[str, dict[str, Any]]:
    """The destination sensor's state and attributes at ``precision``."""
    if not isinstance(destination, Mapping):
        return NONE, {}
    try:
        lat, lon = float(destination["latitude"]), float(destination["longitude"])
    except (KeyError, TypeError, ValueError):
        return NONE, {}
    inside = [z.id for z in zones.values() if distance_m(lat, lon, z.latitude, z.longitude) <= z.radius_m]
    where = location_state(inside)
    if precision is Precision.ZONE:
        return where, {}
    name = str(destination.get("name") or "").strip()[:100]
    if precision is Precision.KM:
        return name or where, {}
    return name or f"{lat:.5f},{lon:.5f}", {"latitude": lat, "longitude": lon}


def ha_state(
    state: Mapping[str, Any],
    precision: Precision,
    zones_inside: list[str],
    zones: Mapping[str, Zone] | None = None,
) -> str:
    """The JSON the car's Home Assistant entities read, with location cut to ``precision``."""
    visible = redact(state, precision, zones_inside)
    attributes: dict[str, Any] = {"zones": sorted(z.removeprefix("zone.") for z in zones_inside)}
    if "latitude" in visible and "longitude" in visible:
        attributes["latitude"], attributes["longitude"] = visible["latitude"], visible["longitude"]
        if precision is Precision.KM:
            attributes["gps_accuracy"] = 1000
        else:
            attributes["gps_accuracy"] = visible.get("accuracy", 10)
    destination, destination_attributes = _destination(state.get("destination"), precision, zones or {})
    body = {
        "location": location_state(zones_inside),
        "attributes": attributes,
        "battery": state.get("battery"),
        "range_km": state.get("range_km"),
        "charging": bool(state.get("charging")),
        "doors_open": bool(state.get("doors_open")),
        "locked": bool(state.get("locked", True)),
        "climate": state.get("climate", "off"),
        "target_temp": state.get("target_temp", 22),
        "cabin_temp": state.get("cabin_temp"),
        "destination": destination,
        "destination_attributes": destination_attributes,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


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

"""The carloop MQTT protocol: topic layout, payloads, command expiry (docs/PROTOCOL.md describes it)."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

ROOT = "carloop/v1"
BRIDGE_STATUS = f"{ROOT}/bridge/status"  # "online" / "offline" (retained; the bridge's last will)
BRIDGES_STATUS_FILTER = f"{ROOT}/bridge/+/status"  # each sharded bridge's own (bridge_status_topic)
HA_STATUS = "homeassistant/status"  # Home Assistant's birth and last will
DISCOVERY_PREFIX = "homeassistant"
STATE_FILTER = f"{ROOT}/+/+/state"
AVAILABILITY_FILTER = f"{ROOT}/+/+/availability"
HA_COMMAND_FILTER = f"{ROOT}/+/+/ha/command"
COMMAND_TTL_S = 60.0
ONLINE, OFFLINE = "online", "offline"


def bridge_status_topic(member: str) -> str:
    """One of several sharded bridges' own ``online``/``offline`` (retained; its last will): the
    availability of the cars it serves, named in their discovery configs."""
    return f"{ROOT}/bridge/{re.sub(r'[^A-Za-z0-9_.:-]', '-', member)}/status"


def state_topic(entity_id: str) -> str:
    """Where a device publishes its state (retained JSON)."""
    return f"{ROOT}/{entity_id.replace('.', '/')}/state"


def command_topic(entity_id: str) -> str:
    """Where the bridge sends a device its commands (QoS 1, not retained)."""
    return f"{ROOT}/{entity_id.replace('.', '/')}/command"


def availability_topic(entity_id: str) -> str:
    """A device's ``online``/``offline`` (retained; ``offline`` is its last will)."""
    return f"{ROOT}/{entity_id.replace('.', '/')}/availability"


def ha_state_topic(entity_id: str) -> str:
    """The privacy-filtered state the bridge publishes for Home Assistant (retained)."""
    return f"{ROOT}/{entity_id.replace('.', '/')}/ha/state"


def ha_location_topic(entity_id: str) -> str:
    """The car's tracker state alone (``home``, a zone's name or ``not_home``; retained): Home
    Assistant's MQTT tracker takes a zone name from the raw payload, never from a template."""
    return f"{ROOT}/{entity_id.replace('.', '/')}/ha/location"


def ha_command_topic(entity_id: str) -> str:
    """Where Home Assistant's entities send commands; the bridge checks, stamps and forwards them."""
    return f"{ROOT}/{entity_id.replace('.', '/')}/ha/command"


def notify_topic(owner_id: int) -> str:
    """Notifications for the owner's phones."""
    return f"{ROOT}/owner/{owner_id}/notify"


def entity_of(topic: str) -> str | None:
    """``carloop/v1/vehicle/7/state`` -> ``vehicle.7``."""
    parts = topic.split("/")
    if len(parts) >= 5 and "/".join(parts[:2]) == ROOT and parts[3].isdigit():
        return f"{parts[2]}.{parts[3]}"
    return None


def owner_topic(owner_id: int) -> str:
    """The owner's own space: notifications and whatever the owner's phones and Home Assistant publish
    for the owner's scenes (``carloop/v1/owner/<id>/#``)."""
    return f"{ROOT}/owner/{owner_id}"


def filter_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid MQTT topic filter, or None when it is."""
    if not pattern or "\x00" in pattern:
        return "an empty topic"
    levels = pattern.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return "'#' must be a whole last level"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


def topic_scope(pattern: str) -> tuple[str, str | int] | None:
    """Whose a topic (or filter) is: ``("owner", id)`` for ``carloop/v1/owner/<id>/…``,
    ``("entity", "vehicle.7")`` for ``carloop/v1/vehicle/7/…``; None when it is not pinned to one
    owner or device (another namespace, or a wildcard where the owner or device should be)."""
    levels = pattern.split("/")
    if len(levels) < 4 or "/".join(levels[:2]) != ROOT:
        return None
    kind, ident = levels[2], levels[3]
    if not ident.isdigit():  # covers "+" and "#" in the id level
        return None
    if kind == "owner":
        return ("owner", int(ident))
    if kind.isidentifier() and kind not in ("bridge",):
        return ("entity", f"{kind}.{int(ident)}")
    return None


def scene_topic_problem(pattern: str, *, owner_id: int, entities: set[str]) -> str | None:
    """Why a scene of ``owner_id`` (whose devices are ``entities``) may not watch ``pattern``:
    scenes watch only the owner's own devices' topics and the owner's own space, never a wildcard
    over other owners' cars."""
    problem = filter_problem(pattern)
    if problem is not None:
        return problem
    scope = topic_scope(pattern)
    if scope is None:
        return (
            f"an MQTT trigger may watch only your own devices' topics ({ROOT}/<kind>/<n>/…) "
            f"or {owner_topic(owner_id)}/…"
        )
    what, ident = scope
    if (what == "owner" and ident != owner_id) or (what == "entity" and ident not in entities):
        return "an MQTT trigger may not watch another owner's topics"
    return None


@dataclass(frozen=True, slots=True)
class Command:
    """A command to one device; devices drop it after ``expires_at``."""

    id: str
    command: str
    args: dict[str, Any]
    issued_at: float
    expires_at: float
    source: str = ""  # "scene:12", "ha", "owner"
    cause: dict[str, Any] | None = None

    def to_json(self) -> str:
        """The wire form."""
        body = {
            "id": self.id,
            "command": self.command,
            "args": self.args,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "source": self.source,
        }
        if self.cause:
            body["cause"] = self.cause
        return json.dumps(body, separators=(",", ":"))


def new_command(
    command: str,
    args: dict[str, Any] | None = None,
    *,
    source: str = "",
    cause: dict[str, Any] | None = None,
    now: float | None = None,
    ttl: float = COMMAND_TTL_S,
) -> Command:
    """A fresh command that expires ``ttl`` seconds from now."""
    at = time.time() if now is None else now
    return Command(uuid.uuid4().hex, command, dict(args or {}), at, at + ttl, source, cause)


def parse_command(payload: bytes | str) -> Command:
    """A command from its wire form; ValueError if it is malformed."""
    try:
        body = json.loads(payload)
        return Command(
            str(body["id"]),
            str(body["command"]),
            dict(body.get("args") or {}),
            float(body["issued_at"]),
            float(body["expires_at"]),
            str(body.get("source", "")),
            body.get("cause"),
        )
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"malformed command: {err}") from err


def is_expired(command: Command, now: float) -> bool:
    """Whether a device must ignore the command (it arrived too late)."""
    return now > command.expires_at


def parse_state(payload: bytes | str) -> dict[str, Any]:
    """A device state message as a dict; ValueError if it is not a JSON object."""
    body = json.loads(payload)
    if not isinstance(body, dict):
        raise ValueError("a state payload is a JSON object")
    return body

"""Who may connect to the MQTT broker and what each may publish and read (pure; no broker, no database).

carloop generates one account per paired device, one for the bridge, one per owner's Home Assistant
(and, in development, one for the simulated fleet) and writes them as Mosquitto's ``password_file``
and ``acl_file``. The embedded amqtt broker reads the very same two files (``amqtt_acl.py``), so both
brokers enforce one policy:

=================  =========================================================  ==========================
account            publishes                                                  reads
=================  =========================================================  ==========================
bridge             ``carloop/v1/#``, ``homeassistant/#``                       the same
device <kind>/<n>  its own ``state`` and ``availability``                     its own ``command``,
                                                                              the bridge's status
phone (a device)   as a device, plus the owner's space ``owner/<id>/#``       as a device, plus the space
owner's HA         each own car's ``ha/command``, ``homeassistant/status``,   each own car's ``ha/#``,
                   the owner's space                                          ``availability`` and
                                                                              discovery configs
simulator (dev)    every device's ``state`` and ``availability``              every device's ``command``
=================  =========================================================  ==========================

Nothing else is allowed: an anonymous client is refused, a car cannot publish under another car's
topics or any car's ``ha/command``, and nobody but the bridge writes a ``command`` topic.

Secrets are stored only as Mosquitto ``$7$`` hashes (PBKDF2-HMAC-SHA512, salted).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from carloop.ecosystem.protocol import (
    BRIDGE_STATUS,
    BRIDGES_STATUS_FILTER,
    DISCOVERY_PREFIX,
    HA_STATUS,
    ROOT,
    owner_topic,
)
from carloop.ecosystem.rules import topic_matches

ITERATIONS = 10_000
BRIDGE_USER = "carloop-bridge"
SIMULATOR_USER = "carloop-simulator"


# ---- secrets -------------------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh client secret (192 random bits, URL-safe)."""
    return secrets.token_urlsafe(24)


def hash_secret(secret: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """Mosquitto's ``$7$<iterations>$<salt>$<hash>`` form (PBKDF2-HMAC-SHA512)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_secret(secret: str, hashed: str) -> bool:
    """Whether ``secret`` matches a ``$7$`` hash (constant time); False for anything else."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt, expected = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, int(parts[2]))
    return hmac.compare_digest(digest, expected)


def is_broker_hash(hashed: str) -> bool:
    """Whether a stored hash is one the broker can check (devices paired before this had none)."""
    return hashed.startswith("$7$")


def derived_secret(key: str, purpose: str) -> str:
    """A secret derived from the server's secret key (the bridge's and simulator's MQTT passwords),
    so every carloop process knows it without storing it."""
    mac = hmac.new(key.encode(), f"carloop mqtt {purpose}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def stable_hash(secret: str, key: str, purpose: str) -> str:
    """The ``$7$`` hash of a service's secret with a salt derived from ``key`` (so writing the files
    again gives the same bytes and the broker is not reloaded for nothing)."""
    salt = hmac.new(key.encode(), f"carloop mqtt salt {purpose}".encode(), hashlib.sha256).digest()[:12]
    return hash_secret(secret, salt=salt)


# ---- accounts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """One broker login and the topic filters it may publish to and read from."""

    username: str
    password_hash: str
    publish: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    note: str = field(default="", compare=False)


def device_username(entity_id: str) -> str:
    """``vehicle.7`` -> ``carloop-vehicle-7`` (also the client id handed out at pairing)."""
    return "carloop-" + entity_id.replace(".", "-")


def home_assistant_username(customer_id: int) -> str:
    """The login of one owner's Home Assistant."""
    return f"carloop-ha-{customer_id}"


def _base(entity_id: str) -> str:
    return f"{ROOT}/{entity_id.replace('.', '/')}"


def device_account(entity_id: str, owner_id: int, password_hash: str) -> Account:
    """A paired device: its own state and availability out, its own commands in."""
    base = _base(entity_id)
    publish = [f"{base}/state", f"{base}/availability"]
    read = [f"{base}/command", BRIDGE_STATUS]
    if entity_id.startswith("phone."):
        publish.append(f"{owner_topic(owner_id)}/#")
        read.append(f"{owner_topic(owner_id)}/#")
    return Account(device_username(entity_id), password_hash, tuple(publish), tuple(read), entity_id)


def home_assistant_account(customer_id: int, vehicles: Iterable[str], password_hash: str) -> Account:
    """One owner's Home Assistant: the owner's cars' privacy-filtered entities, nothing else."""
    publish = [HA_STATUS, f"{owner_topic(customer_id)}/#"]
    read = [BRIDGE_STATUS, BRIDGES_STATUS_FILTER, f"{owner_topic(customer_id)}/#"]  # sharded: each bridge's
    for entity_id in sorted(vehicles):
        base = _base(entity_id)
        publish.append(f"{base}/ha/command")
        read += [f"{base}/ha/#", f"{base}/availability"]
        read.append(f"{DISCOVERY_PREFIX}/+/{entity_id.replace('.', '_')}/#")  # as discovery.py names nodes
    return Account(
        home_assistant_username(customer_id), password_hash, tuple(publish), tuple(read), "home assistant"
    )


def bridge_account(password_hash: str) -> Account:
    """The bridge: reads every state, writes every command and Home Assistant's topics."""
    everything = (f"{ROOT}/#", f"{DISCOVERY_PREFIX}/#")
    return Account(BRIDGE_USER, password_hash, everything, everything, "bridge")


def simulator_account(password_hash: str) -> Account:
    """Development only: the simulated fleet speaks for every device."""
    return Account(
        SIMULATOR_USER,
        password_hash,
        (f"{ROOT}/+/+/state", f"{ROOT}/+/+/availability"),
        (f"{ROOT}/+/+/command", BRIDGE_STATUS),
        "simulator (development only)",
    )


# ---- Mosquitto's files ---------------------------------------------------------------------------


def password_file(accounts: Iterable[Account]) -> str:
    """Mosquitto's ``password_file``: ``username:$7$...`` per line."""
    return "".join(f"{a.username}:{a.password_hash}\n" for a in accounts)


def acl_file(accounts: Iterable[Account]) -> str:
    """Mosquitto's ``acl_file``: per user, ``topic write|read`` lines (no anonymous section at all)."""
    lines = ["# Written by carloop; regenerated when devices or owners change. Do not edit.", ""]
    for account in accounts:
        if account.note:
            lines.append(f"# {account.note}")
        lines.append(f"user {account.username}")
        both = set(account.publish) & set(account.read)
        for pattern in account.publish:
            lines.append(f"topic {'readwrite' if pattern in both else 'write'} {pattern}")
        lines += [f"topic read {pattern}" for pattern in account.read if pattern not in both]
        lines.append("")
    return "\n".join(lines)


def parse_password_file(text: str) -> dict[str, str]:
    """username -> hash, from a ``password_file``."""
    users = {}
    for line in text.splitlines():
        name, sep, hashed = line.strip().partition(":")
        if sep and name and not name.startswith("#"):
            users[name] = hashed
    return users


def parse_acl_file(text: str) -> dict[str, Account]:
    """username -> its publish/read filters, from an ``acl_file`` as ``acl_file()`` writes it."""
    accounts: dict[str, tuple[list[str], list[str]]] = {}
    current: tuple[list[str], list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("user "):
            current = accounts.setdefault(line[5:].strip(), ([], []))
        elif line.startswith("topic ") and current is not None:
            words = line.split(None, 2)
            if len(words) == 2:
                words = ["topic", "readwrite", words[1]]
            access, pattern = words[1], words[2]
            if access in ("write", "readwrite"):
                current[0].append(pattern)
            if access in ("read", "readwrite"):
                current[1].append(pattern)
    return {name: Account(name, "", tuple(p), tuple(r)) for name, (p, r) in accounts.items()}


def may_publish(account: Account | None, topic: str) -> bool:
    """Whether the account may publish on ``topic`` (a concrete topic, no wildcards)."""
    if account is None or "+" in topic or "#" in topic:
        return False
    return any(topic_matches(pattern, topic) for pattern in account.publish)


def may_read(account: Account | None, topic: str) -> bool:
    """Whether a message on ``topic`` may be delivered to the account."""
    return account is not None and any(topic_matches(pattern, topic) for pattern in account.read)


def may_subscribe(account: Account | None, topic_filter: str) -> bool:
    """Whether every topic ``topic_filter`` can match is readable by the account (a wider wildcard is
    refused: amqtt sends retained messages to a new subscription without asking per topic)."""
    return account is not None and any(filter_within(topic_filter, p) for p in account.read)


def filter_within(inner: str, outer: str) -> bool:
    """Whether every topic matched by filter ``inner`` is matched by filter ``outer``."""
    ins, outs = inner.split("/"), outer.split("/")
    for i, part in enumerate(outs):
        if part == "#":
            return True
        if i >= len(ins):
            return False
        if ins[i] == "#":
            return False
        if part == "+":
            continue
        if ins[i] != part:
            return False
    return len(ins) == len(outs)

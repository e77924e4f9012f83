"""Broker accounts: Mosquitto-compatible hashes and an ACL in which each device owns only its topics."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from carloop.ecosystem import credentials as c
from carloop.ecosystem.discovery import vehicle_configs
from carloop.ecosystem.protocol import (
    BRIDGE_STATUS,
    HA_STATUS,
    availability_topic,
    bridge_status_topic,
    command_topic,
    ha_command_topic,
    ha_state_topic,
    notify_topic,
    state_topic,
)

CAR, OTHER_CAR, PHONE = "vehicle.7", "vehicle.8", "phone.9"


def test_hashes_verify_and_are_salted() -> None:
    one, two = c.hash_secret("s3cret"), c.hash_secret("s3cret")
    assert one != two and one.startswith("$7$")
    assert c.verify_secret("s3cret", one) and c.verify_secret("s3cret", two)
    assert not c.verify_secret("s3cret!", one)
    assert not c.verify_secret("s3cret", "5ebe2294ecd0e0f08eab7690d2a6ee69")  # an old SHA-256 hash


@pytest.mark.skipif(not shutil.which("mosquitto_passwd"), reason="mosquitto_passwd is not installed")
def test_mosquitto_passwd_hashes_verify_too(tmp_path: Path) -> None:
    file = tmp_path / "pw"
    file.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(file), "alice", "wonder"], check=True)
    hashed = c.parse_password_file(file.read_text())["alice"]
    assert c.verify_secret("wonder", hashed) and not c.verify_secret("wander", hashed)


def test_a_car_publishes_only_its_own_state_and_reads_only_its_own_commands() -> None:
    car = c.device_account(CAR, 1, "$7$x")
    assert c.may_publish(car, state_topic(CAR)) and c.may_publish(car, availability_topic(CAR))
    for topic in (
        state_topic(OTHER_CAR),
        command_topic(CAR),
        command_topic(OTHER_CAR),
        ha_command_topic(CAR),
        ha_command_topic(OTHER_CAR),
        ha_state_topic(CAR),
        BRIDGE_STATUS,
        "carloop/v1/+/+/state",
    ):
        assert not c.may_publish(car, topic), topic
    assert c.may_subscribe(car, command_topic(CAR))
    assert not c.may_subscribe(car, "#") and not c.may_subscribe(car, "carloop/v1/+/7/command")
    assert not c.may_read(car, state_topic(OTHER_CAR)) and not c.may_read(car, command_topic(OTHER_CAR))


def test_a_phone_also_has_its_owners_space() -> None:
    phone = c.device_account(PHONE, 3, "$7$x")
    assert c.may_read(phone, notify_topic(3)) and not c.may_read(phone, notify_topic(4))
    assert c.may_publish(phone, "carloop/v1/owner/3/button") and not c.may_publish(phone, notify_topic(4))


def test_home_assistant_reaches_only_its_owners_cars() -> None:
    ha = c.home_assistant_account(1, [CAR], "$7$x")
    assert c.may_publish(ha, ha_command_topic(CAR)) and c.may_publish(ha, HA_STATUS)
    assert not c.may_publish(ha, ha_command_topic(OTHER_CAR)) and not c.may_publish(ha, command_topic(CAR))
    assert c.may_read(ha, ha_state_topic(CAR)) and not c.may_read(ha, ha_state_topic(OTHER_CAR))
    assert not c.may_read(ha, state_topic(CAR))  # the raw state carries exact positions
    assert c.may_read(ha, BRIDGE_STATUS) and c.may_read(ha, bridge_status_topic("host:41:ab12cd34"))
    for topic in vehicle_configs(CAR, name="x"):  # every discovery config of its own car
        assert c.may_read(ha, topic), topic
    for topic in vehicle_configs(OTHER_CAR, name="x"):
        assert not c.may_read(ha, topic), topic


def test_the_acl_file_round_trips_and_has_no_anonymous_access() -> None:
    accounts = [
        c.bridge_account("$7$b"),
        c.device_account(CAR, 1, "$7$c"),
        c.home_assistant_account(1, [CAR], "$7$h"),
    ]
    text = c.acl_file(accounts)
    assert text.splitlines()[2].startswith("#") and "\ntopic" not in text.split("user ", 1)[0]
    parsed = c.parse_acl_file(text)
    for account in accounts:
        assert set(parsed[account.username].publish) == set(account.publish)
        assert set(parsed[account.username].read) == set(account.read)
    assert c.parse_password_file(c.password_file(accounts)) == {a.username: a.password_hash for a in accounts}


@pytest.mark.parametrize(
    ("inner", "outer", "within"),
    [
        ("a/b/c", "a/b/c", True),
        ("a/b/c", "a/+/c", True),
        ("a/b/#", "a/#", True),
        ("a/#", "a/b/#", False),
        ("a/+/c", "a/b/c", False),
        ("#", "a/#", False),
        ("a", "a/#", True),  # "#" also matches the parent level
        ("a/b", "a/b/c", False),
    ],
)
def test_filter_within(inner: str, outer: str, within: bool) -> None:
    assert c.filter_within(inner, outer) is within


def test_derived_service_secrets_are_stable_per_key() -> None:
    assert c.derived_secret("k1", "bridge") == c.derived_secret("k1", "bridge")
    assert c.derived_secret("k1", "bridge") != c.derived_secret("k2", "bridge")
    assert c.stable_hash("pw", "k1", "bridge") == c.stable_hash("pw", "k1", "bridge")
    assert c.verify_secret("pw", c.stable_hash("pw", "k1", "bridge"))

"""CARLOOP_EVENT_BUS: empty keeps the database poller, a NATS URL switches, anything else is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from carloop.bus.jetstream import BusConfig
from carloop.settings import Settings


def test_the_database_poller_is_the_default() -> None:
    assert Settings(environment="test").event_bus == ""


@pytest.mark.parametrize("url", ["nats://127.0.0.1:4222", "tls://user:secret@nats.example.com:4222"])
def test_a_nats_url_switches_to_jetstream(url: str) -> None:
    assert Settings(environment="test", event_bus=url).event_bus == url


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379", "127.0.0.1:4222", "http://nats:8222"])
def test_anything_else_is_refused_with_the_reason(url: str) -> None:
    with pytest.raises(ValidationError, match="CARLOOP_EVENT_BUS must be empty"):
        Settings(environment="test", event_bus=url)


def test_the_backoff_grows_and_then_stays_at_its_last_step() -> None:
    config = BusConfig(backoff=(1.0, 5.0, 30.0))
    assert [config.delay_after(n) for n in (1, 2, 3, 4, 9)] == [1.0, 5.0, 30.0, 30.0, 30.0]

"""A NATS JetStream server for the bus tests, and a stream of the test's own (xdist runs them in parallel)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import nats
import pytest

from carloop.bus.jetstream import BusConfig

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def nats_url() -> str:
    """CARLOOP_TEST_NATS_URL (nats-server -js); CI must set it, elsewhere the tests skip without it."""
    url = os.environ.get("CARLOOP_TEST_NATS_URL", "")
    if not url:
        if ON_CI:
            pytest.fail("CI must set CARLOOP_TEST_NATS_URL (nats-server -js on 127.0.0.1:4222)")
        pytest.skip("CARLOOP_TEST_NATS_URL is not set")
    return url


@pytest.fixture
def bus(nats_url: str) -> Iterator[BusConfig]:
    """A stream and subjects no other test uses, quick retries; the stream is deleted afterwards."""
    tag = uuid.uuid4().hex[:12]
    config = BusConfig(
        stream=f"T_{tag}", prefix=f"t{tag}.events", max_attempts=3, backoff=(0.05, 0.1), duplicate_window=600
    )
    yield config

    async def drop() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(config.stream)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(drop())

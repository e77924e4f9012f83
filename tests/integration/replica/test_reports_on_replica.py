"""The analytics dashboard, its API and its exports read CARLOOP_READ_DATABASE_URL, a real streaming
replica: with the replica's replay paused they still show what it had, and a hot standby refuses any
write, so they change nothing; sign-in and the market import stay on the primary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.analytics.models import FunnelEvent
from carloop.bench import launch_data as simulate
from carloop.cli import db
from carloop.db import make_engine, make_session_factory
from carloop.settings import Settings

from .conftest import Pair, _engine

PASSWORD = "a-long-test-password-1"


@pytest.fixture
def on_replica(replica_pair: Pair) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app on the pair (reports on the replica) with HQ signed in and a launch's figures."""
    settings = Settings(
        environment="test", database_url=replica_pair.primary, read_database_url=replica_pair.replica
    )
    engine = make_engine(settings)
    db.upgrade(engine)
    with make_session_factory(engine).begin() as session:
        accounts.create_staff(
            session=session, actor=None, username="ops", display_name="Ops", password=PASSWORD,
            role=Role.HQ_OPS, store_id=None,
        )  # fmt: skip
        simulate.launch(session.connection(), orders=120, now=datetime(2026, 11, 1, tzinfo=UTC))
    engine.dispose()
    _caught_up(replica_pair)
    from carloop.web.app import create_app

    app = create_app(settings)
    try:
        with TestClient(app) as client:
            signed = client.post("/api/v1/auth/staff/sign-in", json={"username": "ops", "password": PASSWORD})
            assert signed.status_code == 200, signed.text
            yield client, {"Authorization": f"Bearer {signed.json()['token']}"}
    finally:
        app.state.engine.dispose()


def _caught_up(pair: Pair) -> None:
    deadline = time.monotonic() + 120  # a safety net for a broken build, not a measurement
    while not pair.replica_lsn_caught_up():
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.1)


def _funnel(body: dict[str, Any]) -> dict[str, int]:
    table = body["tables"]["funnel"]
    return {row[0]: row[1] for row in table["rows"]}


def test_dashboard_api_page_and_exports_read_the_replica(
    replica_pair: Pair, on_replica: tuple[TestClient, dict[str, str]]
) -> None:
    client, hq = on_replica
    before = client.get("/api/v1/analytics/dashboard", headers=hq)
    assert before.status_code == 200, before.text
    assert sum(_funnel(before.json()).values()) > 0
    replica = _engine(replica_pair.replica)
    primary = _engine(replica_pair.primary)
    with replica.connect() as conn:
        assert conn.scalar(text("SELECT pg_is_in_recovery()"))  # it is a standby
        conn.execute(text("SELECT pg_wal_replay_pause()"))
    try:
        with primary.begin() as conn:  # a second launch lands on the primary only
            simulate.launch(conn, orders=60, now=datetime(2026, 11, 20, tzinfo=UTC), seed=9)
            on_primary = conn.scalar(select(func.count()).select_from(FunnelEvent))
        paused = client.get("/api/v1/analytics/dashboard", headers=hq)
        assert paused.status_code == 200
        assert _funnel(paused.json()) == _funnel(before.json())  # the replica's rows, not the primary's
        page = client.get("/console/analytics", headers={**hq, "Accept": "text/html"})
        assert page.status_code == 200 and "<html" in page.text
        export = client.get("/console/analytics/export/funnel.csv", headers=hq)
        assert export.status_code == 200 and export.text.count("\n") > 1
    finally:
        with replica.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
    _caught_up(replica_pair)
    after = client.get("/api/v1/analytics/dashboard", headers=hq).json()
    assert sum(_funnel(after).values()) > sum(_funnel(before.json()).values())
    with replica.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(FunnelEvent)) == on_primary
    replica.dispose()
    primary.dispose()

"""Issue 18's second Done-when test: two real ``carloop serve`` processes on one database; a reserved
order whose refund window ends while they run is locked by the server at the window's end, once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, select, text, update

from carloop.accounts import service as accounts
from carloop.cli import db
from carloop.clock import as_utc, utcnow
from carloop.db import make_engine, make_session_factory
from carloop.ordering.models import Order, OrderEvent
from carloop.ordering.rules import OrderStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.settings import Settings

from ..ordering.conftest import paid_order

PG_URL = os.environ.get("CARLOOP_TEST_DATABASE_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"] if PG_URL else ["sqlite"])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A fresh database migrated by Alembic, as ``carloop serve`` expects it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/served.db"
        engine = make_engine(Settings(environment="test", database_url=url))
        db.upgrade(engine)
        yield url, engine
        engine.dispose()
        return
    name = f"carloop_serve_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(Settings(environment="test", database_url=url))
    db.upgrade(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CARLOOP_ENVIRONMENT": "test",
        "CARLOOP_JOBS_TICK": "0.1",
        "CARLOOP_JOBS_EVERY": json.dumps({"auto_lock": 0.5}),
        "CARLOOP_OUTBOX_INTERVAL": "0",
    }
    cmd = [sys.executable, "-m", "carloop.cli.main", "serve", "--port", str(port), "--database-url", url]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"carloop serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"carloop serve did not start: {log.read_text()[-2000:]}")


def test_two_servers_lock_an_order_at_its_windows_end_exactly_once(
    migrated: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = migrated
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        buyer = accounts.get_or_create_customer(session=session, phone="13800138321").id
        order = paid_order(session, SimulatorProvider(secret="test-secret"), buyer)
        assert order.status is OrderStatus.RESERVED
        number = order.number
        session.execute(  # not due while the servers start
            update(Order).where(Order.id == order.id).values(refundable_until=utcnow() + timedelta(hours=1))
        )
    servers = []
    try:
        for i in range(2):
            port, log = _free_port(), tmp_path / f"serve-{i}.log"
            servers.append((port, _serve(url, port, log), log))
            _wait_healthy(*servers[-1])
        end = utcnow() + timedelta(seconds=1)  # the window now ends while both servers run
        with sessions.begin() as session:
            session.execute(update(Order).where(Order.number == number).values(refundable_until=end))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with sessions() as session:
                if session.scalar(select(Order.status).where(Order.number == number)) is OrderStatus.LOCKED:
                    break
            time.sleep(0.1)
        with sessions() as session:
            rounds = session.scalar(text("SELECT runs FROM scheduled_jobs WHERE name = 'auto_lock'"))
        while time.monotonic() < deadline + 60:  # a few more rounds of both runners: nothing locks it again
            with sessions() as session:
                if (
                    session.scalar(text("SELECT runs FROM scheduled_jobs WHERE name = 'auto_lock'"))
                    >= rounds + 4
                ):
                    break
            time.sleep(0.1)
        for _, proc, _ in servers:
            assert proc.poll() is None  # both processes ran the whole time
    finally:
        for _, proc, _ in servers:
            proc.terminate()
        for _, proc, _ in servers:
            proc.wait(timeout=30)
    with sessions() as session:
        row = session.execute(select(Order.status, Order.locked_at).where(Order.number == number)).one()
        assert row.status is OrderStatus.LOCKED and as_utc(row.locked_at) == end
        locks = session.scalars(select(OrderEvent).where(OrderEvent.to_status == "locked")).all()
        assert len(locks) == 1 and locks[0].actor == "system" and as_utc(locks[0].at) == end

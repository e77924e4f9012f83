"""Fixtures shared by every test layer: settings, a migrated database, the app and a client."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from carloop.db import Base, enable_wal, make_engine, make_session_factory
from carloop.settings import Settings

# the providers' stand-ins as fixtures (aliyun_sms, tencent_sms, wechat, wx_settings, wx_client, ...)
pytest_plugins = ["stand_ins.sms", "stand_ins.wechat_pay"]

PG_URL = os.environ.get("CARLOOP_TEST_DATABASE_URL", "")
# No CARLOOP_ENVIRONMENT means production; the suite says it is a test (CLI commands under test read it).
os.environ["CARLOOP_ENVIRONMENT"] = "test"
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _no_foreign_running_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """Playwright's sync API (the browser tests' session fixture) leaves its event loop registered as the
    main thread's running loop for the rest of the test process, although it is not running while a test
    runs; ``asyncio.run`` (the bus, the events CLI, the campaign simulator...) then refuses on that xdist
    worker. Every test but the browser tests runs without it, and it is put back afterwards."""
    if request.node.get_closest_marker("browser") is not None:
        yield
        return
    foreign = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(foreign)


def _backends() -> list[str]:
    if ON_CI and not PG_URL:
        raise pytest.UsageError(
            "CI must set CARLOOP_TEST_DATABASE_URL so database tests also run on PostgreSQL"
        )
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def _import_all_models() -> None:
    import carloop.models  # noqa: F401 - registers every domain's tables on Base.metadata


_pg_schema_ready = False


@functools.cache
def _pg_url_for_this_process() -> str:
    """PG_URL itself, or under pytest-xdist a fresh database of this worker's own (``test_gw0``...)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        return PG_URL
    url = make_url(PG_URL)
    name = f"{url.database}_{worker}"
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            with contextlib.suppress(DBAPIError):  # still in use by another run: reuse it as it is
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if found.scalar() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL per backend: a fresh SQLite file, or CI's PostgreSQL (one database per xdist worker)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/carloop-test.db"
    return _pg_url_for_this_process()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Test settings pointing at the test database."""
    return Settings(
        environment="test",
        database_url=database_url,
        otp_sender="page",  # the suite reads codes from replies; asked for explicitly, as it must be
        outbox_interval=0,
        jobs_tick=0,
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """An engine on an empty, fully created schema."""
    global _pg_schema_ready
    _import_all_models()
    engine = make_engine(settings)
    if engine.dialect.name == "postgresql":
        if not _pg_schema_ready:
            with engine.begin() as conn:  # tables a change removed from the models go too
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            Base.metadata.create_all(engine)
            _pg_schema_ready = True
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        if names:
            with engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        enable_wal(engine)
        Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to the test engine."""
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction, committed at the end of the test like a request would."""
    with session_factory.begin() as s:
        yield s


@pytest.fixture
def app(settings: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    """The real app on the test database (its connection pool is closed after the test)."""
    from carloop.web.app import create_app

    app = create_app(settings)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client for the stack ``carloop serve`` serves (lanes and the booking route in front of the
    app, bodies bounded); ``client.app.state`` is the app's state. Raises nothing, so 500s show up
    as responses."""
    from carloop.web.asgi import Served

    with TestClient(Served(app), raise_server_exceptions=False) as c:
        yield c

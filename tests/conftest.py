"""Fixtures shared by every test layer: settings, a migrated database, the app and a client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from carloop.db import Base, enable_wal, make_engine, make_session_factory
from carloop.settings import Settings

PG_URL = os.environ.get("CARLOOP_TEST_DATABASE_URL", "")
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _backends() -> list[str]:
    if ON_CI and not PG_URL:
        raise pytest.UsageError("CI must set CARLOOP_TEST_DATABASE_URL so database tests also run on PostgreSQL")
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def _import_all_models() -> None:
    import carloop.models  # noqa: F401 - registers every domain's tables on Base.metadata


_pg_schema_ready = False


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL per backend: a fresh SQLite file, or the CI PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/carloop-test.db"
    return PG_URL


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Test settings pointing at the test database."""
    return Settings(environment="test", database_url=database_url, otp_sender="page")


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """An engine on an empty, fully created schema."""
    global _pg_schema_ready
    _import_all_models()
    engine = make_engine(settings)
    if engine.dialect.name == "postgresql":
        if not _pg_schema_ready:
            Base.metadata.drop_all(engine)
            Base.metadata.create_all(engine)
            _pg_schema_ready = True
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
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
    """The real app on the test database."""
    from carloop.web.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client for the app; raises nothing, so 500s show up as responses."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c

"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, text

from carloop.cli import db
from carloop.db import make_engine
from carloop.models import Base
from carloop.settings import Settings

PG_URL = os.environ.get("CARLOOP_TEST_DATABASE_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"] if PG_URL else ["sqlite"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(Settings(environment="test", database_url=f"sqlite:///{tmp_path}/m.db"))
        yield engine
        engine.dispose()
        return
    name = f"carloop_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(Settings(environment="test", database_url=PG_URL.rsplit("/", 1)[0] + f"/{name}"))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def test_migrations_reach_head_and_match_the_models(empty_engine: Engine) -> None:
    db.upgrade(empty_engine)
    assert db.current_revision(empty_engine) is not None
    with empty_engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert drift == []


def test_upgrading_twice_changes_nothing(empty_engine: Engine) -> None:
    db.upgrade(empty_engine)
    first = db.current_revision(empty_engine)
    db.upgrade(empty_engine)
    assert db.current_revision(empty_engine) == first

"""Throwaway databases for benchmarks: a fresh schema per run, on SQLite or the same PostgreSQL server."""

from __future__ import annotations

import os
from pathlib import Path


def bench_database(database_url: str | None, workdir: Path, suffix: str, *, per_process: bool = True) -> str:
    """A fresh, empty database for the bench, with the schema and (SQLite) WAL set up once.

    On PostgreSQL it is ``<database>_<suffix>_<pid>`` on the same server, dropped by ``drop_bench_database``.
    """
    from sqlalchemy import create_engine, make_url, text

    import carloop.models  # noqa: F401 - every table
    from carloop.db import Base, enable_wal, make_engine
    from carloop.settings import Settings

    if not database_url or database_url.startswith("sqlite"):
        url = f"sqlite:///{workdir}/{suffix}.db"
    else:
        base = make_url(database_url)
        # Per process: two benches at once never share one (drop it with drop_bench_database);
        # otherwise one fixed name per bench, recreated on every run.
        name = f"{base.database}_{suffix}_{os.getpid()}" if per_process else f"{base.database}_{suffix}"
        admin = create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(Settings(environment="development", database_url=url))
    enable_wal(engine)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


def drop_bench_database(url: str) -> None:
    """Drop a PostgreSQL bench database once its audit is done (SQLite files go with their folder)."""
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine, make_url, text

    target = make_url(url)
    admin = create_engine(
        target.set(drivername="postgresql+psycopg", database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()

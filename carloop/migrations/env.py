"""Alembic environment: migrates whatever database the carloop settings point at."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from carloop.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "carloop migrations run through `carloop db upgrade` (carloop.cli.db), not bare alembic"
    )
_run(connection)

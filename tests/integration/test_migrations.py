"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, text

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


def test_network_notices_move_into_the_one_notices_table_and_back(empty_engine: Engine) -> None:
    before = "7a214fb7f958"  # the last revision with customer_notice
    to = _migrate(empty_engine)
    to(before)
    with empty_engine.begin() as conn:
        _customer_7(conn)
        conn.execute(
            text(
                "INSERT INTO customer_notice (customer_id, key, subject, body, created_at, sent_at) VALUES"
                " (7, 'reassigned:1:2', 'Order N1: new centre / 新交付中心', '已满额\nat capacity',"
                " CURRENT_TIMESTAMP, NULL),"
                " (7, 'reminder:3:202612081000', 'Reminder: test drive / 试驾', 'No. 1 Road',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    to("head")
    with empty_engine.connect() as conn:
        moved = conn.execute(
            text("SELECT kind, key, source, subject_zh, body_en FROM notices ORDER BY id")
        ).all()
        channels = conn.execute(text("SELECT channel, status FROM notice_deliveries")).all()
    assert [tuple(r) for r in moved] == [
        (
            "centre_changed",
            "network:reassigned:1:2",
            "network",
            "Order N1: new centre / 新交付中心",
            "已满额\nat capacity",
        ),
        (
            "reminder",
            "network:reminder:3:202612081000",
            "appointments",
            "Reminder: test drive / 试驾",
            "No. 1 Road",
        ),
    ]
    assert sorted(tuple(c) for c in channels) == [("inapp", "sent"), ("inapp", "sent")]
    to(before, down=True)
    with empty_engine.connect() as conn:
        back = conn.execute(text("SELECT key, subject FROM customer_notice ORDER BY id")).all()
        left = conn.execute(text("SELECT count(*) FROM notices")).scalar_one()
    assert [tuple(r) for r in back] == [
        ("reassigned:1:2", "Order N1: new centre / 新交付中心"),
        ("reminder:3:202612081000", "Reminder: test drive / 试驾"),
    ]
    assert left == 0


def test_community_notices_move_into_the_one_notices_table_in_both_languages_and_back(
    empty_engine: Engine,
) -> None:
    before = "c2b30dee89dd"  # the last revision with community_notices
    to = _migrate(empty_engine)
    to(before)
    with empty_engine.begin() as conn:
        _customer_7(conn)
        conn.execute(
            text(
                "INSERT INTO suggestions (id, author_id, title, body, category, model, status,"
                " decline_reason, created_at, updated_at, embedding_model)"
                " VALUES (3, 7, '座椅通风', '', 'cabin', '', 'planned', '', CURRENT_TIMESTAMP,"
                " CURRENT_TIMESTAMP, '')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO forum_posts (id, board, author_id, title, body, hidden, helpful, created_at)"
                " VALUES (5, 'tips', 7, 'Winter range tips', '', false, false, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO community_notices (customer_id, kind, suggestion_id, post_id, data, key,"
                " read_at, created_at) VALUES"
                " (7, 'status_changed', 3, NULL, :status, 'status_changed:3:1:7', CURRENT_TIMESTAMP,"
                " CURRENT_TIMESTAMP),"
                " (7, 'mentioned', NULL, 5, :mention, 'mentioned:5:9:7', NULL, CURRENT_TIMESTAMP)"
            ),
            {
                "status": '{"from_status": "submitted", "to_status": "planned", "note": "Q3"}',
                "mention": '{"title": "Winter range tips", "by": 8, "comment": 9}',
            },
        )
    to("head")
    with empty_engine.connect() as conn:
        moved = conn.execute(
            text(
                "SELECT kind, key, source, subject_zh, body_en, body_zh, link, read_at IS NOT NULL"
                " FROM notices ORDER BY id"
            )
        ).all()
        channels = conn.execute(text("SELECT channel, status FROM notice_deliveries")).all()
    assert [tuple(r) for r in moved] == [
        (
            "status_changed",
            "community:status_changed:3:1:7",
            "community",
            "座椅通风",
            "Now planned (Q3).",
            "现在：已规划（Q3）。",
            "/community/suggestions/3",
            True,
        ),
        (
            "mentioned",
            "community:mentioned:5:9:7",
            "community",
            "Winter range tips",
            "You were mentioned in a comment.",
            "有人在评论中提到了您。",
            "/community/forum/posts/5",
            False,
        ),
    ]
    assert sorted(tuple(c) for c in channels) == [("inapp", "sent"), ("inapp", "sent")]
    to(before, down=True)
    with empty_engine.connect() as conn:
        back = conn.execute(
            text("SELECT kind, key, suggestion_id, post_id FROM community_notices ORDER BY id")
        ).all()
        left = conn.execute(text("SELECT count(*) FROM notices")).scalar_one()
    assert [tuple(r) for r in back] == [
        ("status_changed", "status_changed:3:1:7", 3, None),
        ("mentioned", "mentioned:5:9:7", None, 5),
    ]
    assert left == 0


def _customer_7(conn: Connection) -> None:
    conn.execute(
        text(
            "INSERT INTO customer (id, phone, display_name, id_verified, created_at)"
            " VALUES (7, '+8613800138000', 'a', false, CURRENT_TIMESTAMP)"
        )
    )


def _migrate(engine: Engine) -> Callable[..., None]:
    """Upgrade (or, with ``down=True``, downgrade) the database to a revision."""
    from alembic import command

    def to(revision: str, *, down: bool = False) -> None:
        config = db._config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)

    return to

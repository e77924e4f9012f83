"""one notice system: notices, their deliveries per channel, owners' preferences; production's
delivery notices move in; outbox events can be deferred (RetryLater)

Revision ID: 5b8f0e3a7d21
Revises: 8d2c4b1e7f60
Create Date: 2026-12-07 06:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carloop.db

revision: str = "5b8f0e3a7d21"
down_revision: str | None = "8d2c4b1e7f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("order_number", sa.String(length=24), nullable=False),
        sa.Column("subject_en", sa.String(length=200), nullable=False),
        sa.Column("subject_zh", sa.String(length=200), nullable=False),
        sa.Column("body_en", sa.String(length=1000), nullable=False),
        sa.Column("body_zh", sa.String(length=1000), nullable=False),
        sa.Column("sms_params", sa.JSON(), nullable=False),
        sa.Column("read_at", carloop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", carloop.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_notices_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_notices_key")),
    )
    op.create_index(op.f("ix_notices_customer_id"), "notices", ["customer_id"], unique=False)
    op.create_index(op.f("ix_notices_order_id"), "notices", ["order_id"], unique=False)
    op.create_table(
        "notice_deliveries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.Column("sent_at", carloop.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_deliveries_notice_id_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_deliveries")),
        sa.UniqueConstraint("notice_id", "channel", name=op.f("uq_notice_deliveries_notice_id_channel")),
    )
    op.create_index(op.f("ix_notice_deliveries_notice_id"), "notice_deliveries", ["notice_id"], unique=False)
    op.create_table(
        "notice_preferences",
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("email_on", sa.Boolean(), nullable=False),
        sa.Column("sms_on", sa.Boolean(), nullable=False),
        sa.Column("updated_at", carloop.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_notice_preferences_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_notice_preferences")),
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("available_at", carloop.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("deferrals", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_outbox_events_available_at"), ["available_at"], unique=False)
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.alter_column("deferrals", server_default=None)
    # production's delivery notices move in, as already shown in the app
    op.execute(
        "INSERT INTO notices (customer_id, kind, key, source, order_id, order_number, subject_en, subject_zh,"
        " body_en, body_zh, sms_params, read_at, created_at)"
        " SELECT customer_id, kind, 'production:' || order_id || ':' || kind || '/legacy-' || id, 'production',"
        " order_id, order_number, '', '', message_en, message_zh, '{}', NULL, created_at"
        " FROM production_notices ORDER BY id"
    )
    op.execute(
        "INSERT INTO notice_deliveries (notice_id, channel, status, attempts, last_error, sent_at)"
        " SELECT id, 'inapp', 'sent', 0, '', created_at FROM notices WHERE source = 'production'"
    )
    with op.batch_alter_table("production_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_production_notices_order_id"))
        batch_op.drop_index(batch_op.f("ix_production_notices_customer_id"))
    op.drop_table("production_notices")


def downgrade() -> None:
    op.create_table(
        "production_notices",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_id", BIG_ID, nullable=False),
        sa.Column("order_number", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("message_en", sa.String(length=400), nullable=False),
        sa.Column("message_zh", sa.String(length=400), nullable=False),
        sa.Column("created_at", carloop.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_production_notices_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_notices")),
    )
    with op.batch_alter_table("production_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_production_notices_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_production_notices_order_id"), ["order_id"], unique=False)
    op.execute(
        "INSERT INTO production_notices (customer_id, order_id, order_number, kind, message_en, message_zh,"
        " created_at) SELECT customer_id, order_id, order_number, substr(kind, 1, 30), substr(body_en, 1, 400),"
        " substr(body_zh, 1, 400), created_at FROM notices WHERE source = 'production' ORDER BY id"
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_events_available_at"))
        batch_op.drop_column("deferrals")
        batch_op.drop_column("available_at")
    op.drop_table("notice_preferences")
    op.drop_index(op.f("ix_notice_deliveries_notice_id"), table_name="notice_deliveries")
    op.drop_table("notice_deliveries")
    op.drop_index(op.f("ix_notices_order_id"), table_name="notices")
    op.drop_index(op.f("ix_notices_customer_id"), table_name="notices")
    op.drop_table("notices")

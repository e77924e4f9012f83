"""events on NATS JetStream: relayed outbox rows, processed events per consumer, dead letters

Revision ID: e4b7a1c9d2f3
Revises: 297e7f4aa701
Create Date: 2026-12-07 06:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carloop.db

revision: str = "e4b7a1c9d2f3"
down_revision: str | None = "297e7f4aa701"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relayed_at", carloop.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_events_relayed_at"), ["relayed_at"], unique=False)
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=60), nullable=False),
        sa.Column("event_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("processed_at", carloop.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_processed_events")),
    )
    op.create_table(
        "event_dead_letters",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("consumer", sa.String(length=60), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("created_at", carloop.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_dead_letters")),
        sa.UniqueConstraint("consumer", "event_id", name=op.f("uq_event_dead_letters_consumer_event_id")),
    )


def downgrade() -> None:
    op.drop_table("event_dead_letters")
    op.drop_table("processed_events")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_events_relayed_at"))
        batch_op.drop_column("relayed_at")

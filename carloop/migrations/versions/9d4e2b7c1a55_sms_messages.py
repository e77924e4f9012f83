"""sms messages: every text message sent through a provider, with its status (never its variables)

Revision ID: 9d4e2b7c1a55
Revises: c3c02f832989
Create Date: 2026-12-07 05:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carloop.db

revision: str = "9d4e2b7c1a55"
down_revision: str | None = "c3c02f832989"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_message",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite"),
            nullable=False,
        ),
        sa.Column("key", sa.String(length=120), nullable=True),
        sa.Column("provider", sa.String(length=12), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("template_code", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("provider_message_id", sa.String(length=100), nullable=False),
        sa.Column("error_code", sa.String(length=100), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", carloop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", carloop.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_message")),
        sa.UniqueConstraint("key", name=op.f("uq_sms_message_key")),
    )
    op.create_index(op.f("ix_sms_message_phone"), "sms_message", ["phone"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sms_message_phone"), table_name="sms_message")
    op.drop_table("sms_message")

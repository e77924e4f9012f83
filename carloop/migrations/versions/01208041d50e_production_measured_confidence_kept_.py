"""production: measured confidence (kept rates), promised_at and stated share on slots

Revision ID: 01208041d50e
Revises: c3d5e7f9a1b2
Create Date: 2026-12-07 09:20:13.715870
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carloop.db

revision: str = "01208041d50e"
down_revision: str | None = "c3d5e7f9a1b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "production_kept_rates",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite"),
            nullable=False,
        ),
        sa.Column("model", sa.String(length=40), nullable=False),
        sa.Column("band", sa.Integer(), nullable=False),
        sa.Column("kept", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("computed_at", carloop.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_kept_rates")),
        sa.UniqueConstraint("model", "band", name=op.f("uq_production_kept_rates_model_band")),
    )
    with op.batch_alter_table("production_slots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("promised_at", carloop.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stated", sa.Float(), nullable=True))
    # A slot that was given a window before (the old marker: a stated constant) keeps being "placed".
    op.execute("UPDATE production_slots SET promised_at = updated_at WHERE first_confidence > 0")
    with op.batch_alter_table("production_slots", schema=None) as batch_op:
        batch_op.drop_column("first_confidence")
        batch_op.drop_column("confidence")


def downgrade() -> None:
    with op.batch_alter_table("production_slots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confidence", sa.FLOAT(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("first_confidence", sa.FLOAT(), nullable=False, server_default="0"))

    op.execute("UPDATE production_slots SET first_confidence = 0.85 WHERE promised_at IS NOT NULL")
    with op.batch_alter_table("production_slots", schema=None) as batch_op:
        batch_op.drop_column("stated")
        batch_op.drop_column("promised_at")

    op.drop_table("production_kept_rates")

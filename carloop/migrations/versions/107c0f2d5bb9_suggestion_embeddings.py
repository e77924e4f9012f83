"""suggestion embeddings: the vector of each suggestion's text, which model made it, and when

Existing suggestions get no vector here; ``carloop community reindex`` backfills them.

Revision ID: 107c0f2d5bb9
Revises: 51012702c650
Create Date: 2026-12-07 02:35:52.381304
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carloop.db

revision: str = "107c0f2d5bb9"
down_revision: str | None = "51012702c650"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("embedding", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("embedding_model", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("embedded_at", carloop.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_suggestions_embedded_at"), ["embedded_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suggestions_embedded_at"))
        batch_op.drop_column("embedded_at")
        batch_op.drop_column("embedding_model")
        batch_op.drop_column("embedding")

"""store hub: a satellite outlet names the delivery centre it belongs to

Revision ID: 8d2c4b1e7f60
Revises: e4b7a1c9d2f3
Create Date: 2026-12-07 06:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8d2c4b1e7f60"
down_revision: str | None = "e4b7a1c9d2f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG = sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("store", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hub_id", BIG, nullable=True))
        batch_op.create_index(batch_op.f("ix_store_hub_id"), ["hub_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_store_hub_id_store"), "store", ["hub_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("store", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_store_hub_id_store"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_store_hub_id"))
        batch_op.drop_column("hub_id")

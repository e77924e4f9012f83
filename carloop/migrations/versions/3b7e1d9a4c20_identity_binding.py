"""identity binding: one verified identity per customer account, one account per identity

Revision ID: 3b7e1d9a4c20
Revises: 04943cf63c81
Create Date: 2026-12-07 04:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carloop.db

revision: str = "3b7e1d9a4c20"
down_revision: str | None = "04943cf63c81"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_binding",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite"),
            nullable=False,
        ),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", carloop.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_identity_binding_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_binding")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_identity_binding_customer_id")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_identity_binding_id_hash")),
    )


def downgrade() -> None:
    op.drop_table("identity_binding")

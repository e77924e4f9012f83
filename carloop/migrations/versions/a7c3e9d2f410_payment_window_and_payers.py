"""payment window of reservations, who pays a payment and where they return

Revision ID: a7c3e9d2f410
Revises: 107c0f2d5bb9
Create Date: 2026-12-07 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carloop.db

revision: str = "a7c3e9d2f410"
down_revision: str | None = "107c0f2d5bb9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_due_at", carloop.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_orders_status_due", ["status", "payment_due_at"], unique=False)
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "customer_id",
                sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("return_url", sa.String(length=500), nullable=False, server_default=""))
        batch_op.create_foreign_key(
            batch_op.f("fk_payments_customer_id_customer"), "customer", ["customer_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_payments_customer_id_customer"), type_="foreignkey")
        batch_op.drop_column("return_url")
        batch_op.drop_column("customer_id")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_due")
        batch_op.drop_column("payment_due_at")

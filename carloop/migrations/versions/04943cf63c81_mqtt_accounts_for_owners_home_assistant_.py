"""MQTT accounts for owners' Home Assistant; device secrets as broker hashes

Revision ID: 04943cf63c81
Revises: cdec6e8ece24
Create Date: 2026-12-07 02:24:49.634742
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carloop.db

revision: str = "04943cf63c81"
down_revision: str | None = "cdec6e8ece24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Devices paired before keep their old SHA-256 hash, which no broker can check: the broker refuses
    # them until the owner issues the device new credentials (POST /ecosystem/devices/{id}/credentials).
    op.create_table(
        "eco_mqtt_account",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite"),
            nullable=False,
        ),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("secret_hash", sa.String(length=160), nullable=False),
        sa.Column("created_at", carloop.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_eco_mqtt_account_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eco_mqtt_account")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_eco_mqtt_account_customer_id")),
        sa.UniqueConstraint("username", name=op.f("uq_eco_mqtt_account_username")),
    )
    with op.batch_alter_table("eco_device", schema=None) as batch_op:
        batch_op.alter_column(
            "secret_hash",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=160),
            existing_nullable=False,
        )


def downgrade() -> None:
    op.execute("UPDATE eco_device SET secret_hash = ''")  # broker hashes do not fit the old column
    with op.batch_alter_table("eco_device", schema=None) as batch_op:
        batch_op.alter_column(
            "secret_hash",
            existing_type=sa.String(length=160),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )

    op.drop_table("eco_mqtt_account")

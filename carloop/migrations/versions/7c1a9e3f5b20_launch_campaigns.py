"""launch campaigns: campaigns and their versions, deep links, touches, attributed orders

Revision ID: 7c1a9e3f5b20
Revises: 5b8f0e3a7d21
Create Date: 2026-12-07 09:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carloop.db

revision: str = "7c1a9e3f5b20"
down_revision: str | None = "5b8f0e3a7d21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite")
WHEN = carloop.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("trims", sa.JSON(), nullable=False),
        sa.Column("reveal_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("perk", sa.JSON(), nullable=True),
        sa.Column("perks_taken", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("code", name=op.f("uq_campaigns_code")),
    )
    op.create_index(op.f("ix_campaigns_reveal_at"), "campaigns", ["reveal_at"], unique=False)
    op.create_index(op.f("ix_campaigns_ends_at"), "campaigns", ["ends_at"], unique=False)
    op.create_table(
        "campaign_versions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("changed_by", sa.String(length=40), nullable=False),
        sa.Column("changed_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_versions_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_versions")),
        sa.UniqueConstraint("campaign_id", "version", name=op.f("uq_campaign_versions_campaign_id_version")),
    )
    op.create_index(
        op.f("ix_campaign_versions_campaign_id"), "campaign_versions", ["campaign_id"], unique=False
    )
    op.create_table(
        "campaign_links",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("model", sa.String(length=40), nullable=False),
        sa.Column("trim", sa.String(length=40), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_links_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_links")),
        sa.UniqueConstraint("code", name=op.f("uq_campaign_links_code")),
    )
    op.create_index(op.f("ix_campaign_links_campaign_id"), "campaign_links", ["campaign_id"], unique=False)
    op.create_table(
        "campaign_touches",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("link_id", sa.BigInteger(), nullable=False),
        sa.Column("visitor", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_touches_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["link_id"], ["campaign_links.id"], name=op.f("fk_campaign_touches_link_id_campaign_links")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_touches")),
    )
    op.create_index(
        op.f("ix_campaign_touches_campaign_id"), "campaign_touches", ["campaign_id"], unique=False
    )
    op.create_index(op.f("ix_campaign_touches_link_id"), "campaign_touches", ["link_id"], unique=False)
    op.create_index("ix_campaign_touches_visitor", "campaign_touches", ["visitor"], unique=False)
    op.create_index(
        "ix_campaign_touches_customer", "campaign_touches", ["customer_id", "campaign_id"], unique=False
    )
    op.create_table(
        "campaign_orders",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("order_number", sa.String(length=24), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(length=40), nullable=False),
        sa.Column("trim", sa.String(length=40), nullable=False),
        sa.Column("first_link_id", sa.BigInteger(), nullable=True),
        sa.Column("last_link_id", sa.BigInteger(), nullable=True),
        sa.Column("reserved_at", WHEN, nullable=False),
        sa.Column("paid_at", WHEN, nullable=True),
        sa.Column("locked_at", WHEN, nullable=True),
        sa.Column("refunded_at", WHEN, nullable=True),
        sa.Column("perk_position", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_orders_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["first_link_id"],
            ["campaign_links.id"],
            name=op.f("fk_campaign_orders_first_link_id_campaign_links"),
        ),
        sa.ForeignKeyConstraint(
            ["last_link_id"],
            ["campaign_links.id"],
            name=op.f("fk_campaign_orders_last_link_id_campaign_links"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_orders")),
        sa.UniqueConstraint("order_id", name=op.f("uq_campaign_orders_order_id")),
    )
    op.create_index(op.f("ix_campaign_orders_customer_id"), "campaign_orders", ["customer_id"], unique=False)
    op.create_index(
        "ix_campaign_orders_campaign_paid", "campaign_orders", ["campaign_id", "paid_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("campaign_orders")
    op.drop_table("campaign_touches")
    op.drop_table("campaign_links")
    op.drop_table("campaign_versions")
    op.drop_table("campaigns")

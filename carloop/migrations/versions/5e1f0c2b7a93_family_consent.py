"""family consent: a listed family member counts only once they accepted (issue 14)

Rows listed before this revision were never consented to, so they start unconfirmed: each member
accepts the invitation again before an order can be handed to them.

Revision ID: 5e1f0c2b7a93
Revises: a7c3e9d2f410
Create Date: 2026-12-07 03:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carloop.db

revision: str = "5e1f0c2b7a93"
down_revision: str | None = "a7c3e9d2f410"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("family_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_at", carloop.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_family_members_member_id"), ["member_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("family_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_members_member_id"))
        batch_op.drop_column("confirmed_at")

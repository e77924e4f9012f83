"""outbox: partial indexes on pending events, (name, available_at, id) and (available_at,
relayed_at, id), so a dispatcher's claim does not pass the handled rows; the whole-table index on
available_at goes (the pending one replaces it)

Revision ID: 5e1d0c7a9b21
Revises: cef8fa96c3f3
Create Date: 2026-12-07 16:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1d0c7a9b21"
down_revision: str | None = "cef8fa96c3f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("handled_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_outbox_events_available_at", table_name="outbox_events")
    op.create_index(
        "ix_outbox_events_pending_name",
        "outbox_events",
        ["name", "available_at", "id"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
    op.create_index(
        "ix_outbox_events_pending_due",
        "outbox_events",
        ["available_at", "relayed_at", "id"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_events_pending_due", table_name="outbox_events")
    op.drop_index("ix_outbox_events_pending_name", table_name="outbox_events")
    op.create_index("ix_outbox_events_available_at", "outbox_events", ["available_at"])

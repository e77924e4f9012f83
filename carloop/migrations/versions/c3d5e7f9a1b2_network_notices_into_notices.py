"""network and appointment notices move into the one notices table; customer_notice is dropped

Revision ID: c3d5e7f9a1b2
Revises: 7a214fb7f958
Create Date: 2026-12-07 10:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carloop.db

revision: str = "c3d5e7f9a1b2"
down_revision: str | None = "7a214fb7f958"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite")

# The old rows kept one text with both languages ("English / 中文" or "中文\nEnglish"): it stays whole
# in both language columns; the key gets the prefix new code uses, so a repeat stays one notice.


def upgrade() -> None:
    op.execute(
        "INSERT INTO notices (customer_id, kind, key, source, order_id, order_number, subject_en, subject_zh,"
        " body_en, body_zh, sms_params, read_at, created_at)"
        " SELECT customer_id,"
        " CASE WHEN key LIKE 'reassigned:%' THEN 'centre_changed' WHEN key LIKE 'reminder:%' THEN 'reminder'"
        " WHEN key LIKE 'support:%' THEN 'support' ELSE 'network' END,"
        " 'network:' || key,"
        " CASE WHEN key LIKE 'reminder:%' THEN 'appointments' ELSE 'network' END,"
        " NULL, '', subject, subject, body, body, '{}', NULL, created_at FROM customer_notice ORDER BY id"
    )
    op.execute(
        "INSERT INTO notice_deliveries (notice_id, channel, status, attempts, last_error, sent_at)"
        " SELECT id, 'inapp', 'sent', 0, '', created_at FROM notices WHERE key LIKE 'network:%'"
        " AND NOT EXISTS (SELECT 1 FROM notice_deliveries d WHERE d.notice_id = notices.id)"
    )
    with op.batch_alter_table("customer_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_notice_sent_at"))
        batch_op.drop_index(batch_op.f("ix_customer_notice_customer_id"))
    op.drop_table("customer_notice")


def downgrade() -> None:
    op.create_table(
        "customer_notice",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.String(length=1000), nullable=False),
        sa.Column("created_at", carloop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", carloop.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_customer_notice_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_notice")),
        sa.UniqueConstraint("key", name=op.f("uq_customer_notice_key")),
    )
    with op.batch_alter_table("customer_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_notice_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_notice_sent_at"), ["sent_at"], unique=False)
    op.execute(
        "INSERT INTO customer_notice (customer_id, key, subject, body, created_at, sent_at)"
        " SELECT customer_id, substr(key, 9, 80),"
        " substr(CASE WHEN subject_en = subject_zh THEN subject_en ELSE subject_en || ' / ' || subject_zh END,"
        " 1, 200), body_zh, created_at, created_at FROM notices WHERE key LIKE 'network:%' ORDER BY id"
    )
    op.execute(
        "DELETE FROM notice_deliveries WHERE notice_id IN (SELECT id FROM notices WHERE key LIKE 'network:%')"
    )
    op.execute("DELETE FROM notices WHERE key LIKE 'network:%'")

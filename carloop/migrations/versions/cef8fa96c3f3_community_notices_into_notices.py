"""community notices move into the one notices table (with a link to their page); community_notices
is dropped

Revision ID: cef8fa96c3f3
Revises: c2b30dee89dd
Create Date: 2026-12-07 13:10:00.000000
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import carloop.db

revision: str = "cef8fa96c3f3"
down_revision: str | None = "c2b30dee89dd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite")
KINDS = ("status_changed", "solved_question", "merged", "mentioned")

# The old rows kept data (the new status, a note, a title) that the page worded through Babel; the
# one table keeps the words in both languages. These are the words of community.rules when this
# migration was written (frozen here, so a later change of wording does not change the migration).
STATUS_WORDS = {
    "submitted": ("Submitted", "已提交"),
    "under_review": ("Under review", "评估中"),
    "planned": ("Planned", "已规划"),
    "in_development": ("In development", "开发中"),
    "shipped": ("Shipped", "已上线"),
    "declined": ("Declined", "未采纳"),
}

OLD = sa.table(
    "community_notices",
    sa.column("id", BIG_ID),
    sa.column("customer_id", BIG_ID),
    sa.column("kind", sa.String(32)),
    sa.column("suggestion_id", BIG_ID),
    sa.column("post_id", BIG_ID),
    sa.column("data", sa.JSON()),
    sa.column("key", sa.String(120)),
    sa.column("read_at", carloop.db.UTCDateTime(timezone=True)),
    sa.column("created_at", carloop.db.UTCDateTime(timezone=True)),
)
NOTICES = sa.table(
    "notices",
    sa.column("id", BIG_ID),
    sa.column("customer_id", BIG_ID),
    sa.column("kind", sa.String(40)),
    sa.column("key", sa.String(160)),
    sa.column("source", sa.String(20)),
    sa.column("order_id", BIG_ID),
    sa.column("order_number", sa.String(24)),
    sa.column("subject_en", sa.String(200)),
    sa.column("subject_zh", sa.String(200)),
    sa.column("body_en", sa.String(1000)),
    sa.column("body_zh", sa.String(1000)),
    sa.column("sms_params", sa.JSON()),
    sa.column("link", sa.String(300)),
    sa.column("read_at", carloop.db.UTCDateTime(timezone=True)),
    sa.column("created_at", carloop.db.UTCDateTime(timezone=True)),
)
SUGGESTION_PAGE = "/community/suggestions/"
POST_PAGE = "/community/forum/posts/"


def _words(kind: str, data: Mapping[str, Any]) -> tuple[str, str]:
    """A moved notice's body, (English, Chinese)."""
    if kind == "status_changed":
        en, zh = STATUS_WORDS.get(str(data.get("to_status", "")), (str(data.get("to_status", "")),) * 2)
        note = str(data.get("note") or "").strip()
        return (
            f"Now {en.lower()}" + (f" ({note})" if note else "") + ".",
            f"现在：{zh}" + (f"（{note}）" if note else "") + "。",
        )
    if kind == "solved_question":
        return "It shipped. Did it solve the problem for you?", "已上线——它解决您的问题了吗？"
    if kind == "merged":
        kept = str(data.get("title", ""))
        return f"Merged into “{kept}”; your vote counts there.", f"已合并到“{kept}”，您的投票计入该建议。"
    if data.get("comment"):
        return "You were mentioned in a comment.", "有人在评论中提到了您。"
    return "You were mentioned in this post.", "有人在这篇帖子中提到了您。"


def upgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link", sa.String(length=300), server_default="", nullable=False))
    conn = op.get_bind()
    suggestions = sa.table("suggestions", sa.column("id", BIG_ID), sa.column("title", sa.String(200)))
    posts = sa.table("forum_posts", sa.column("id", BIG_ID), sa.column("title", sa.String(200)))
    rows = conn.execute(
        sa.select(OLD, suggestions.c.title.label("suggestion_title"), posts.c.title.label("post_title"))
        .select_from(
            OLD.outerjoin(suggestions, suggestions.c.id == OLD.c.suggestion_id).outerjoin(
                posts, posts.c.id == OLD.c.post_id
            )
        )
        .order_by(OLD.c.id)
    ).all()
    for row in rows:
        data = dict(row.data or {})
        mention = row.kind == "mentioned"
        title = str((row.post_title if mention else row.suggestion_title) or data.get("title") or "")[:200]
        body = _words(str(row.kind), data)
        link = f"{POST_PAGE}{row.post_id}" if mention else f"{SUGGESTION_PAGE}{row.suggestion_id}"
        conn.execute(
            NOTICES.insert().values(
                customer_id=row.customer_id,
                kind=str(row.kind),
                key=f"community:{row.key}",
                source="community",
                order_id=None,
                order_number="",
                subject_en=title,
                subject_zh=title,
                body_en=body[0][:1000],
                body_zh=body[1][:1000],
                sms_params={},
                link=link,
                read_at=row.read_at,
                created_at=row.created_at,
            )
        )
    op.execute(
        "INSERT INTO notice_deliveries (notice_id, channel, status, attempts, last_error, sent_at)"
        " SELECT id, 'inapp', 'sent', 0, '', created_at FROM notices WHERE key LIKE 'community:%'"
        " AND NOT EXISTS (SELECT 1 FROM notice_deliveries d WHERE d.notice_id = notices.id)"
    )
    with op.batch_alter_table("community_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_notices_customer_id"))
    op.drop_table("community_notices")


def downgrade() -> None:
    op.create_table(
        "community_notices",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.Enum(*KINDS, name="noticekind", native_enum=False, length=32), nullable=False),
        sa.Column("suggestion_id", BIG_ID, nullable=True),
        sa.Column("post_id", BIG_ID, nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("read_at", carloop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", carloop.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_community_notices_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["forum_posts.id"], name=op.f("fk_community_notices_post_id_forum_posts")
        ),
        sa.ForeignKeyConstraint(
            ["suggestion_id"], ["suggestions.id"], name=op.f("fk_community_notices_suggestion_id_suggestions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_community_notices_key")),
    )
    with op.batch_alter_table("community_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_community_notices_customer_id"), ["customer_id"], unique=False)
    # Back to data the old page worded: the title (the status and note stay only in the words).
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(NOTICES).where(NOTICES.c.source == "community").order_by(NOTICES.c.id)
    ).all()
    for row in rows:
        target = int(row.link.rsplit("/", 1)[1]) if row.link.rsplit("/", 1)[-1].isdigit() else None
        on_post = row.link.startswith(POST_PAGE)
        conn.execute(
            OLD.insert().values(
                customer_id=row.customer_id,
                kind=row.kind,
                suggestion_id=None if on_post else target,
                post_id=target if on_post else None,
                data={"title": row.subject_en},
                key=row.key.removeprefix("community:")[:120],
                read_at=row.read_at,
                created_at=row.created_at,
            )
        )
    op.execute(
        "DELETE FROM notice_deliveries WHERE notice_id IN (SELECT id FROM notices WHERE source = 'community')"
    )
    op.execute("DELETE FROM notices WHERE source = 'community'")
    # a plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of the table would drop the table
    # notice_deliveries' rows point at, which SQLite's foreign keys refuse
    op.drop_column("notices", "link")

"""Suggestions, votes, followers, status history, "did this solve it?" answers, and the forum.

Owners' notices live in the one notices domain (``carloop.notices``; see ``community.notices``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.community.rules import Board, Category, SuggestionStatus
from carloop.db import Base, BigId, enum_column


class Suggestion(Base):
    """An owner's idea; a merged one points at the suggestion it duplicates."""

    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[Category] = mapped_column(enum_column(Category))
    model: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[SuggestionStatus] = mapped_column(
        enum_column(SuggestionStatus), default=SuggestionStatus.SUBMITTED, index=True
    )
    decline_reason: Mapped[str] = mapped_column(String(500), default="")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id"), index=True)
    follow_up_of_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    shipped_at: Mapped[datetime | None]
    # the sentence embedding of title and body (carloop.community.embedding), written through the outbox
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str] = mapped_column(String(40), default="", server_default="")
    embedded_at: Mapped[datetime | None] = mapped_column(index=True)


class Vote(Base):
    """One owner's vote, kept on the suggestion it was cast on (merges count it on the kept one)."""

    __tablename__ = "suggestion_votes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("suggestion_id", "customer_id"),)


class Follower(Base):
    """An owner following a suggestion's status changes (authors and voters follow automatically)."""

    __tablename__ = "suggestion_followers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)

    __table_args__ = (UniqueConstraint("suggestion_id", "customer_id"),)


class StatusChange(Base):
    """One step of a suggestion's history; the public changelog is made of these."""

    __tablename__ = "suggestion_status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    from_status: Mapped[str] = mapped_column(String(32), default="")
    to_status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SolvedAnswer(Base):
    """A voter's answer to "did this solve it?" after the suggestion shipped."""

    __tablename__ = "suggestion_solved_answers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    solved: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("suggestion_id", "customer_id"),)


class ForumPost(Base):
    """A post on one of the boards; hidden posts are kept for moderators but not shown."""

    __tablename__ = "forum_posts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    board: Mapped[Board] = mapped_column(enum_column(Board), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    helpful: Mapped[bool] = mapped_column(Boolean, default=False)
    official_answer_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ForumComment(Base):
    """A comment on a post."""

    __tablename__ = "forum_comments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(BigInteger)  # a staff answer (official when marked)
    body: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PostLike(Base):
    """One owner's like of one post."""

    __tablename__ = "forum_likes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))

    __table_args__ = (UniqueConstraint("post_id", "customer_id"),)


class ReportStatus(StrEnum):
    """Where a report stands in the moderation queue."""

    OPEN = "open"  # waiting for a moderator
    ACTIONED = "actioned"  # the content was hidden
    DISMISSED = "dismissed"  # nothing wrong found


class ForumReport(Base):
    """An owner's report of a post or comment, queued for staff."""

    __tablename__ = "forum_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    target_type: Mapped[str] = mapped_column(String(10))  # post | comment
    target_id: Mapped[int] = mapped_column(BigInteger)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    reason: Mapped[str] = mapped_column(String(300))
    status: Mapped[ReportStatus] = mapped_column(
        enum_column(ReportStatus), default=ReportStatus.OPEN, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("target_type", "target_id", "reporter_id"),)


class ForumBan(Base):
    """An owner barred from posting and commenting until a moment."""

    __tablename__ = "forum_bans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), unique=True)
    until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(300))

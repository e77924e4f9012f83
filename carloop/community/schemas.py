"""Shapes of the co-creation board API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from carloop.community.rules import Board, Category, SuggestionStatus


class SuggestionCreate(BaseModel):
    """A new suggestion."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=4, max_length=200)
    body: str = Field(default="", max_length=5000)
    category: Category
    model: str = Field(default="", max_length=40)


class SuggestionRead(BaseModel):
    """A suggestion with its unique voter count (merged duplicates included)."""

    id: int
    title: str
    body: str
    category: Category
    model: str
    status: SuggestionStatus
    votes: int
    decline_reason: str
    merged_into_id: int | None
    follow_up_of_id: int | None
    created_at: datetime
    shipped_at: datetime | None


class SimilarRead(BaseModel):
    """A suggestion like the text being typed."""

    id: int
    title: str
    status: SuggestionStatus
    votes: int
    score: float
    likely_duplicate: bool


class StatusMove(BaseModel):
    """Staff move a suggestion to a status (declining needs a note)."""

    model_config = ConfigDict(extra="forbid")

    status: SuggestionStatus
    note: str = Field(default="", max_length=500)


class MergeRequest(BaseModel):
    """Merge this suggestion into another."""

    model_config = ConfigDict(extra="forbid")

    into: int = Field(gt=0, lt=2**63)


class SolvedAnswerCreate(BaseModel):
    """A voter's answer to "did this solve it?"."""

    model_config = ConfigDict(extra="forbid")

    solved: bool


class SolvedResult(BaseModel):
    """The tally after an answer, and the follow-up it opened if any."""

    yes: int
    no: int
    follow_up_id: int | None


class NoticeRead(BaseModel):
    """A board or forum notice in an owner's inbox, in the owner's language."""

    id: int
    kind: str
    subject: str  # the suggestion's or post's title
    body: str
    link: str  # the suggestion's or post's page
    created_at: datetime
    read: bool


class RoadmapRead(BaseModel):
    """The public roadmap: planned, in development, shipped."""

    planned: list[SuggestionRead]
    in_development: list[SuggestionRead]
    shipped: list[SuggestionRead]


class PostCreate(BaseModel):
    """A new forum post."""

    model_config = ConfigDict(extra="forbid")

    board: Board
    title: str = Field(min_length=4, max_length=200)
    body: str = Field(default="", max_length=20_000)


class CommentCreate(BaseModel):
    """A comment on a post."""

    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=5000)


class CommentRead(BaseModel):
    """A visible comment."""

    id: int
    author_id: int | None
    staff: bool
    body: str
    created_at: datetime


class PostRead(BaseModel):
    """A visible post with its likes and comments."""

    id: int
    board: Board
    author_id: int
    title: str
    body: str
    likes: int
    helpful: bool
    official_answer_id: int | None
    created_at: datetime
    comments: list[CommentRead] = Field(default_factory=list)


class ReportCreate(BaseModel):
    """Report a post or comment to the moderators."""

    model_config = ConfigDict(extra="forbid")

    target_type: Literal["post", "comment"]
    target_id: int = Field(gt=0, lt=2**63)
    reason: str = Field(min_length=2, max_length=300)


class ReportRead(BaseModel):
    """A report in the moderation queue."""

    id: int
    target_type: str
    target_id: int
    reason: str
    status: str
    created_at: datetime


class ReportDecision(BaseModel):
    """Hide the reported content, or dismiss the report."""

    model_config = ConfigDict(extra="forbid")

    hide: bool


class OfficialAnswer(BaseModel):
    """Which staff comment answers the question."""

    model_config = ConfigDict(extra="forbid")

    comment_id: int = Field(gt=0, lt=2**63)


class BanCreate(BaseModel):
    """Bar an owner from the forum for some days."""

    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(gt=0, lt=2**63)
    days: int = Field(gt=0, le=3650)
    reason: str = Field(min_length=2, max_length=300)

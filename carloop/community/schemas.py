"""Shapes of the co-creation board API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from carloop.community.rules import Category, SuggestionStatus


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

    into: int = Field(gt=0)


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
    """A notice in an owner's inbox."""

    id: int
    kind: str
    suggestion_id: int
    data: dict[str, Any]
    created_at: datetime
    read: bool


class RoadmapRead(BaseModel):
    """The public roadmap: planned, in development, shipped."""

    planned: list[SuggestionRead]
    in_development: list[SuggestionRead]
    shipped: list[SuggestionRead]

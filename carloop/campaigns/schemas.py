"""Shapes of campaigns and deep links, in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from carloop.clock import FIRST_MOMENT, LAST_MOMENT


class PerkIn(BaseModel):
    """An early-bird perk: the first ``limit`` paid orders, or every order locked within ``hours``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["first_paid", "locked_within"]
    limit: int | None = Field(default=None, ge=1, le=10_000_000)
    hours: int | None = Field(default=None, ge=1, le=720)
    title_en: str = Field(min_length=1, max_length=120)
    title_zh: str = Field(min_length=1, max_length=120)


class CampaignCreate(BaseModel):
    """What HQ says when it creates (or re-saves) a campaign."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
    name_en: str = Field(min_length=1, max_length=120)
    name_zh: str = Field(min_length=1, max_length=120)
    models: list[str] = Field(min_length=1, max_length=20)
    trims: list[str] = Field(default_factory=list, max_length=40)
    reveal_at: AwareDatetime = Field(ge=FIRST_MOMENT, le=LAST_MOMENT)
    ends_at: AwareDatetime = Field(ge=FIRST_MOMENT, le=LAST_MOMENT)
    perk: PerkIn | None = None


class CampaignRead(BaseModel):
    """A campaign as the console and the API show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name_en: str
    name_zh: str
    models: list[str]
    trims: list[str]
    reveal_at: datetime
    ends_at: datetime
    perk: dict[str, object] | None
    perks_taken: int
    version: int


class LinkCreate(BaseModel):
    """A deep link for one channel and source, maybe with a preset configuration."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["livestream", "influencer", "host", "store", "ad", "partner"]
    source: str = Field(min_length=1, max_length=80)
    model: str = Field(min_length=1, max_length=40)
    trim: str | None = Field(default=None, max_length=40)
    options: list[str] = Field(default_factory=list, max_length=40)

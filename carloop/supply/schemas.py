"""Shapes of the suppliers' API: confirmations and shortage flags in, forecasts and receipts out."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class ConfirmationCreate(BaseModel):
    """What a supplier commits to deliver of one part in the week starting ``week`` (any day of it)."""

    model_config = ConfigDict(extra="forbid")

    part: str = Field(min_length=1, max_length=40)
    week: date
    quantity: int = Field(ge=0, le=100_000)
    reason: str = Field(default="", max_length=200)


class ShortageCreate(BaseModel):
    """A shortage flag: ``short_share`` of demand missing from ``from_week`` until ``recovery_week``."""

    model_config = ConfigDict(extra="forbid")

    part: str = Field(min_length=1, max_length=40)
    from_week: date
    recovery_week: date
    short_share: float = Field(gt=0, le=1)
    reason: str = Field(min_length=3, max_length=200)


class ConfirmationRead(BaseModel):
    """A stored confirmation and what it did to the plan."""

    part: str
    week: date
    quantity: int
    demand: int
    late: bool
    changes: int
    capped: bool  # below demand: the plan caps the part in that week
    plan_version: int | None


class ShortageRead(BaseModel):
    """A stored shortage flag and the weeks it confirmed."""

    id: int
    part: str
    from_week: date
    recovery_week: date
    short_share: float
    weeks: list[ConfirmationRead]


class WeekRead(BaseModel):
    """One part in one week of the forecast."""

    week: date
    firm: int
    likely: float | None  # None: the conversion is not measured yet
    confirmed: int | None
    late: bool
    cap: int | None
    deadline: date


class PartForecastRead(BaseModel):
    """A part and its weeks."""

    part: str
    name_en: str
    name_zh: str
    weeks: list[WeekRead]


class ForecastRead(BaseModel):
    """The supplier's demand forecast."""

    supplier: str
    conversion: float | None
    parts: list[PartForecastRead]

"""Shapes of analytics: dashboard filters and the JSON the dashboard API returns."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from carloop.analytics.rules import Channel
from carloop.analytics.warehouse import Filters


class DashboardQuery(BaseModel):
    """Dashboard filters as query parameters (all optional)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, max_length=40)
    channel: Channel | None = None
    date_from: date | None = None
    date_to: date | None = None

    def filters(self) -> Filters:
        """The warehouse filters."""
        return Filters(self.model or None, self.channel, self.date_from, self.date_to)


class TableRead(BaseModel):
    """One table behind a chart."""

    columns: list[str]
    rows: list[list[Any]]


class MarketMonthRead(BaseModel):
    """Market structure of one month."""

    month: str
    total_units: int
    hhi: float
    cr4: float
    cr8: float
    brand_share: float | None
    brand_rank: int | None
    shares: dict[str, float]


class DashboardRead(BaseModel):
    """Everything the dashboard draws."""

    tables: dict[str, TableRead]
    market: list[MarketMonthRead]
    market_sources: list[str]

"""Shapes of production: the plan staff edit, delivery windows and quotes, tracking, runs and notices."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carloop.clock import FIRST_DAY, LAST_DAY


class CapKind(StrEnum):
    """What a weekly cap limits."""

    TRIM = "trim"  # cars of these trims a week (a top trim's special line)
    OPTION = "option"  # cars with any of these options a week (a paint, a wheel)
    PART = "part"  # a shared part's weekly supply, used by every car of these trims or with these options


class LineIn(BaseModel):
    """A production line: the models it builds and its weekly capacity once ramped up."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=30, pattern=r"^[a-z0-9-]+$")
    name: str = Field(max_length=80)
    models: list[str] = Field(min_length=1)
    weekly_capacity: int = Field(ge=0, le=100_000)
    # the line starts at half capacity here and grows linearly...
    ramp_start: date | None = Field(default=None, ge=FIRST_DAY, le=LAST_DAY)
    ramp_weeks: int = Field(default=0, ge=0, le=104)  # ...to full capacity over this many weeks


class CapIn(BaseModel):
    """A weekly cap that binds across orders: a trim, an option, or a shared part's supply."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=30, pattern=r"^[a-z0-9-]+$")
    kind: CapKind
    name: str = Field(max_length=80)
    weekly: int = Field(ge=0, le=100_000)
    model: str | None = None  # only cars of this model count (None: any model)
    trims: list[str] = Field(default_factory=list)  # cars of these trims use it
    options: list[str] = Field(default_factory=list)  # cars with any of these options use it

    @model_validator(mode="after")
    def _targets(self) -> CapIn:
        if not self.trims and not self.options:
            raise ValueError("a cap needs trims or options to apply to")
        return self


class OutageIn(BaseModel):
    """Weeks with less capacity: a holiday or plant stop (a line, or '*' for all), or a supply cut (a cap)."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(min_length=1, max_length=30)  # a line code, '*' for every line, or a cap code
    start: date = Field(ge=FIRST_DAY, le=LAST_DAY)
    weeks: int = Field(ge=1, le=52)
    remaining: float = Field(ge=0, le=1)  # the share of capacity left: 0 is a stop, 0.7 a 30% cut
    reason: str = Field(default="", max_length=120)


class LeadTimes(BaseModel):
    """Days from the end of the line to the buyer: transport to the delivery centre and preparation."""

    model_config = ConfigDict(extra="forbid")

    transport_min: int = Field(default=2, ge=0, le=60)
    transport_max: int = Field(default=7, ge=0, le=60)
    prep_min: int = Field(default=1, ge=0, le=30)
    prep_max: int = Field(default=3, ge=0, le=30)


class PlanData(BaseModel):
    """The production plan: plant, lines, caps, outages and lead times (one version per change)."""

    model_config = ConfigDict(extra="forbid")

    plant: str = Field(max_length=80)
    plant_code: str = Field(min_length=1, max_length=1, pattern=r"^[A-HJ-NPR-Z0-9]$")  # VIN position 11
    wmi: str = Field(min_length=3, max_length=3, pattern=r"^[A-HJ-NPR-Z0-9]{3}$")  # VIN positions 1-3
    horizon_weeks: int = Field(default=52, ge=4, le=104)
    frozen_weeks: int = Field(default=1, ge=0, le=8)  # weeks already on the line: nothing moves into them
    lines: list[LineIn] = Field(min_length=1)
    caps: list[CapIn] = Field(default_factory=list)
    outages: list[OutageIn] = Field(default_factory=list)
    lead: LeadTimes = Field(default_factory=LeadTimes)

    @model_validator(mode="after")
    def _unique(self) -> PlanData:
        codes = [line.code for line in self.lines] + [cap.code for cap in self.caps]
        if len(codes) != len(set(codes)):
            raise ValueError("line and cap codes must be unique")
        built = [m for line in self.lines for m in line.models]
        if len(built) != len(set(built)):
            raise ValueError("each model is built on one line")
        known = {*codes, "*"}
        for outage in self.outages:
            if outage.target not in known:
                raise ValueError(f"outage target {outage.target!r} is not a line or cap code")
        return self


class PlanUpdate(BaseModel):
    """A new plan version and why it changed."""

    model_config = ConfigDict(extra="forbid")

    plan: PlanData
    reason: str = Field(min_length=3, max_length=200)


class PlanRead(BaseModel):
    """A plan version as stored."""

    version: int
    reason: str
    actor: str
    created_at: datetime
    plan: PlanData


class WindowRead(BaseModel):
    """A delivery window: dates, weeks from today, and how often past windows like it were kept."""

    build_week_start: date | None  # the Monday of the build week; None when beyond the plan horizon
    earliest: date | None
    latest: date | None
    weeks_min: int | None
    weeks_max: int | None
    confidence: float | None  # measured share of past windows of this kind kept; None: too few yet
    sample: int = 0  # delivered orders that share was measured on
    beyond_horizon: bool = False


class EtaQuote(BaseModel):
    """The delivery estimate for a configuration if it were ordered and locked now."""

    model: str
    trim: str
    options: list[str]
    configuration: str
    queue_ahead: int  # locked orders of this configuration waiting to be built
    window: WindowRead
    plan_version: int


class StageRead(BaseModel):
    """One tracking stage and when it was reached (None: not yet)."""

    stage: str
    at: datetime | None


class PromiseChangeRead(BaseModel):
    """A move of an order's promised window, with its reason."""

    at: datetime
    from_latest: date | None
    to_latest: date | None
    reason: str
    later: bool


class TrackingRead(BaseModel):
    """An order's delivery window (current and first promised), stages, VIN and window changes."""

    number: str
    status: str
    window: WindowRead | None
    first_window: WindowRead | None
    vin: str | None
    stages: list[StageRead]
    changes: list[PromiseChangeRead]
    plan_published: bool = True  # False until HQ saves a plan: no window can be promised yet


class StageAdvance(BaseModel):
    """Staff move an order to its next tracking stage."""

    model_config = ConfigDict(extra="forbid")

    stage: str = Field(pattern=r"^(in_production|built|in_transit|at_delivery_centre|delivered)$")


class RunRead(BaseModel):
    """One allocation run: what triggered it, how many orders it placed and moved, how long it took."""

    id: int
    at: datetime
    trigger: str  # in English (``trigger_kind`` and ``trigger_params`` word it in any language)
    trigger_kind: str
    trigger_params: dict[str, Any]
    plan_version: int
    orders: int
    moved_earlier: int
    moved_later: int
    millis: float


class NoticeRead(BaseModel):
    """A message to a buyer about their order's delivery."""

    id: int
    order_number: str
    kind: str
    message_en: str
    message_zh: str
    created_at: datetime


class ReconfigurePreview(BaseModel):
    """What a post-lock configuration change would do: the current window and the new queue's quote."""

    number: str
    change_allowed_until: datetime  # one 24-hour window after locking
    current: WindowRead | None
    proposed: EtaQuote


class InventoryCarRead(BaseModel):
    """A built car without a buyer, and to which waiting order it is offered until when."""

    id: int
    vin: str
    model: str
    trim: str
    configuration: str
    status: str
    offered_order_id: int | None
    offer_expires_at: datetime | None

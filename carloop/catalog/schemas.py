"""Shapes of the catalog: configurations in, priced quotes out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConfigurationIn(BaseModel):
    """What a buyer picked: a model, a trim and option codes (defaults fill the rest)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, max_length=40, examples=["su7"])
    trim: str = Field(min_length=1, max_length=40, examples=["pro"])
    options: list[str] = Field(default_factory=list, max_length=60, examples=[["paint-aqua-blue"]])


class DepositPolicy(BaseModel):
    """How much the reservation deposit is and whether and for how long it can be refunded."""

    model_config = ConfigDict(frozen=True)

    amount_fen: int = Field(gt=0)
    refundable_hours: int = Field(ge=0)  # 0: not refundable at all
    auto_lock: bool = True  # the order locks itself when the refundable window ends
    lock_at_payment: bool = False  # numbered limited editions lock the moment the deposit is paid


class PriceLine(BaseModel):
    """One line of the itemised breakdown, in integer fen (incentives are negative)."""

    model_config = ConfigDict(frozen=True)

    kind: str  # "base" | "option" | "incentive"
    code: str
    label_en: str
    label_zh: str
    amount_fen: int


class Quote(BaseModel):
    """A valid configuration priced against one catalog version."""

    model_config = ConfigDict(frozen=True)

    catalog_version: str
    model: str
    trim: str
    options: list[str]  # the resolved option codes, defaults and trim inclusions added, sorted
    lines: list[PriceLine]
    total_fen: int
    deposit: DepositPolicy
    edition: str | None = None  # code of a numbered limited edition, if the trim is one
    summary_en: str
    summary_zh: str

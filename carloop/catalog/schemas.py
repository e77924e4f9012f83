"""Shapes of the catalog: configurations in, priced quotes out."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

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
    # how long a reservation holds its queue place (and edition number) before the deposit is paid
    payment_window_minutes: int = Field(default=15, ge=1, le=7 * 24 * 60)


class PriceLine(BaseModel):
    """One line of the itemised breakdown, in integer fen (incentives are negative)."""

    model_config = ConfigDict(frozen=True)

    kind: str  # "base" | "option" | "incentive"
    code: str
    label_en: str
    label_zh: str
    amount_fen: int
    included: bool = False  # an option that comes with the trim at no charge (shown as "included")


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


class GroupMode(StrEnum):
    """How many options of a group a configuration holds."""

    EXACTLY_ONE = "exactly-one"  # one, always; the default fills the group when the buyer chose none
    AT_MOST_ONE = "at-most-one"  # none or one
    ANY = "any"  # any number, including none


class EditionRead(BaseModel):
    """A numbered limited edition and how many units exist."""

    code: str
    units: int
    numbered: bool


class OptionRead(BaseModel):
    """One option of a model, with the trims that offer it and its rules."""

    code: str
    group: str
    name_en: str
    name_zh: str
    price_fen: int
    trims: list[str]  # the trims that offer it
    included_on: list[str]  # the trims that include it at no charge
    requires: list[str]  # needs any one of these
    excludes: list[str]  # cannot be combined with these


class GroupRead(BaseModel):
    """An option group: its mode, default and options in display order."""

    code: str
    mode: GroupMode
    name_en: str
    name_zh: str
    default: str | None
    options: list[OptionRead]


class TrimRead(BaseModel):
    """A trim: base price, what it includes, its deposit policy and edition."""

    code: str
    name_en: str
    name_zh: str
    price_fen: int
    included: list[str]
    defaults: dict[str, str]  # group -> option chosen when the buyer picks nothing in it
    deposit: DepositPolicy
    edition: EditionRead | None
    highlights_en: list[str]
    highlights_zh: list[str]


class IncentiveRead(BaseModel):
    """A time-limited incentive: a negative price line while it is valid."""

    code: str
    name_en: str
    name_zh: str
    amount_fen: int  # the most it takes off (it never exceeds the price of `options` when set)
    trims: list[str] | None
    options: list[str] | None
    valid_from: datetime
    valid_until: datetime


class CarModelRead(BaseModel):
    """A model with everything a configurator needs."""

    code: str
    name_en: str
    name_zh: str
    body_en: str
    body_zh: str
    tagline_en: str
    tagline_zh: str
    launched: date
    from_price_fen: int
    deposit: DepositPolicy
    trims: list[TrimRead]
    groups: list[GroupRead]
    incentives: list[IncentiveRead]


class CatalogRead(BaseModel):
    """One catalog version: every model, trim, option, price and deposit policy."""

    version: str
    published: datetime
    current: bool
    models: list[CarModelRead]

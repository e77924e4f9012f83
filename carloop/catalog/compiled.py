"""The compiled catalog: frozen, pre-indexed dataclasses built by ``loader.compile_catalog``.

Each trim carries what pricing needs precomputed (available options, group fills, ready-made price
lines), so that ``rules.price`` does only dictionary and set lookups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from carloop.catalog.schemas import DepositPolicy, GroupMode, PriceLine

SINGLE_CHOICE = frozenset({GroupMode.EXACTLY_ONE, GroupMode.AT_MOST_ONE})


@dataclass(frozen=True, slots=True)
class Option:
    """An option of one model; ``trims`` is None when every trim offers it."""

    code: str
    group: str
    name_en: str
    name_zh: str
    price_fen: int
    trims: frozenset[str] | None
    requires: frozenset[str]  # any one of these must be in the configuration
    excludes: frozenset[str]  # none of these may be (made symmetric at compile time)


@dataclass(frozen=True, slots=True)
class Group:
    """An option group with its mode, default and options in display order."""

    code: str
    mode: GroupMode
    name_en: str
    name_zh: str
    default: str | None
    options: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Edition:
    """A numbered limited edition of ``units`` cars."""

    code: str
    units: int
    numbered: bool


@dataclass(frozen=True, slots=True)
class Trim:
    """A trim, with what pricing needs precomputed."""

    code: str
    name_en: str
    name_zh: str
    price_fen: int
    included: frozenset[str]
    defaults: Mapping[str, str]  # single-choice group -> the option filled when the buyer chose none
    deposit: DepositPolicy
    edition: Edition | None
    highlights_en: tuple[str, ...]
    highlights_zh: tuple[str, ...]
    available: frozenset[str]  # options offered on this trim
    always: frozenset[str]  # included options of "any" groups: always in the configuration
    base_line: PriceLine
    option_lines: Mapping[str, PriceLine]  # per available option; included ones cost 0


@dataclass(frozen=True, slots=True)
class Incentive:
    """A time-limited reduction, valid from ``valid_from`` up to but excluding ``valid_until``."""

    code: str
    name_en: str
    name_zh: str
    amount_fen: int
    trims: frozenset[str] | None
    options: frozenset[str] | None  # when set: applies only to the price paid for these options
    valid_from: datetime
    valid_until: datetime
    line: PriceLine  # the full reduction as a negative line

    def is_valid_at(self, at: datetime) -> bool:
        """Whether the incentive runs at the moment ``at``."""
        return self.valid_from <= at < self.valid_until


@dataclass(frozen=True, slots=True)
class CarModel:
    """A model: its trims, groups, options (in display order) and incentives."""

    code: str
    name_en: str
    name_zh: str
    body_en: str
    body_zh: str
    tagline_en: str
    tagline_zh: str
    launched: date
    deposit: DepositPolicy
    trims: Mapping[str, Trim]
    groups: Mapping[str, Group]
    options: Mapping[str, Option]
    incentives: tuple[Incentive, ...]
    single_groups: tuple[Group, ...]
    position: Mapping[str, int]  # option code -> display position, to order price lines

    @property
    def from_price_fen(self) -> int:
        """The lowest trim price."""
        return min(trim.price_fen for trim in self.trims.values())


@dataclass(frozen=True, slots=True)
class Catalog:
    """One catalog version."""

    version: str
    published: datetime
    models: Mapping[str, CarModel]
    editions: Mapping[str, Edition]

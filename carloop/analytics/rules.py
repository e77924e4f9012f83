"""Pure analytics rules: funnel stages, privacy buckets, drop-off and market concentration."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    """A step of the buyer's journey, in funnel order."""

    MODEL_VIEWED = "model_viewed"  # a model page was shown
    CONFIGURATION_PRICED = "configuration_priced"  # a configuration got a price
    RESERVATION_STARTED = "reservation_started"  # an order was opened, deposit not yet paid
    PAID = "paid"  # the deposit was paid
    LOCKED = "locked"  # the order was locked (configuration frozen)
    REFUNDED = "refunded"  # ended within the refundable window; deposit returned
    CANCELLED = "cancelled"  # ended otherwise (unpaid, or locked and forfeited)
    DELIVERED = "delivered"  # the car was handed over


FUNNEL = (
    Stage.MODEL_VIEWED,
    Stage.CONFIGURATION_PRICED,
    Stage.RESERVATION_STARTED,
    Stage.PAID,
    Stage.LOCKED,
    Stage.DELIVERED,
)


class Channel(StrEnum):
    """Where the buyer came from."""

    APP = "app"  # the maker's phone app
    WEB = "web"  # the website
    MINI_PROGRAM = "mini_program"  # a WeChat/Alipay mini-program
    STORE = "store"  # entered by staff in a store
    UNKNOWN = "unknown"  # not recorded (an order seen only through its status events)


ONLINE = frozenset({Channel.APP, Channel.WEB, Channel.MINI_PROGRAM})


class Gender(StrEnum):
    """Self-declared gender, if the buyer gave one."""

    FEMALE = "female"  # declared female
    MALE = "male"  # declared male
    UNKNOWN = "unknown"  # not given


AGE_BANDS = ("18-24", "25-29", "30-34", "35-40", "41-49", "50+")
CITY_TIERS = ("tier1", "new_tier1", "tier2", "tier3_plus")


def age_band(age: int | None) -> str | None:
    """The bucket of an age (the exact age is never stored); None when unknown or under 18."""
    if age is None or age < 18 or age > 120:
        return None
    for band, upper in zip(AGE_BANDS, (24, 29, 34, 40, 49), strict=False):
        if age <= upper:
            return band
    return AGE_BANDS[-1]


def anonymise(secret: bytes, raw: str) -> str:
    """A keyed, one-way visitor id (32 hex chars) for a session token, phone or device id."""
    return hmac.new(secret, b"analytics:" + raw.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """One funnel stage: how many reached it, and the share kept from the step before and from the top."""

    stage: str
    count: int
    from_previous: float | None
    from_top: float | None

    @property
    def drop_off(self) -> float | None:
        """The share lost since the previous step."""
        return None if self.from_previous is None else 1.0 - self.from_previous


def funnel_steps(counts: Mapping[str, int], stages: Sequence[str] = FUNNEL) -> list[FunnelStep]:
    """Conversion between consecutive stages (None where the earlier stage had nobody)."""
    steps: list[FunnelStep] = []
    top = counts.get(stages[0], 0) if stages else 0
    previous: int | None = None
    for stage in stages:
        count = counts.get(stage, 0)
        from_previous = None if previous is None or previous == 0 else count / previous
        steps.append(FunnelStep(str(stage), count, from_previous, count / top if top else None))
        previous = count
    return steps


@dataclass(frozen=True, slots=True)
class MarketMonth:
    """Market structure of one month: shares, concentration, and one brand's place."""

    month: str
    total_units: int
    shares: dict[str, float]  # brand -> share of the month's units, largest first
    hhi: float  # Herfindahl-Hirschman index on percentage shares, 0..10,000
    cr4: float  # combined share of the four largest brands
    cr8: float  # combined share of the eight largest brands
    brand_share: float | None
    brand_rank: int | None  # 1 = largest; None when the brand sold nothing that month


def market_month(month: str, units: Mapping[str, int], *, brand: str | None = None) -> MarketMonth:
    """Shares, HHI, CR4, CR8 and the rank of ``brand`` for one month's units by brand."""
    positive = {name: n for name, n in units.items() if n > 0}
    total = sum(positive.values())
    ranked = sorted(positive.items(), key=lambda item: (-item[1], item[0]))
    shares = {name: n / total for name, n in ranked} if total else {}
    ordered = list(shares.values())
    hhi = sum((share * 100) ** 2 for share in ordered)
    rank = next((i for i, (name, _) in enumerate(ranked, start=1) if name == brand), None)
    return MarketMonth(
        month=month,
        total_units=total,
        shares=shares,
        hhi=hhi,
        cr4=sum(ordered[:4]),
        cr8=sum(ordered[:8]),
        brand_share=shares.get(brand) if brand is not None else None,
        brand_rank=rank,
    )


def concentration_label(hhi: float) -> str:
    """The usual reading of an HHI: unconcentrated (<1,500), moderate (1,500-2,500) or high."""
    if hhi < 1500:
        return "unconcentrated"
    if hhi <= 2500:
        return "moderately concentrated"
    return "highly concentrated"

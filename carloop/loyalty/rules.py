"""Pure points rules: earn rules as data, caps, how movements are booked, and the expiry policy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from carloop.clock import SHANGHAI


class EarnReason(StrEnum):
    """Why points were earned."""

    DELIVERY = "delivery"  # the owner's car was handed over
    REFERRAL = "referral"  # someone the owner referred locked an order
    SUGGESTION_ACCEPTED = "suggestion_accepted"  # the owner's suggestion was planned
    HELPFUL_POST = "helpful_post"  # a post of the owner's was marked helpful
    EVENT_CHECKIN = "event_checkin"  # the owner checked in at an owner event
    DAILY_CHECKIN = "daily_checkin"  # the owner opened the app and checked in today
    COMPENSATION = "compensation"  # staff granted points to make up for a fault


@dataclass(frozen=True, slots=True)
class EarnRule:
    """How many points a reason earns, the contribution score it adds, and its caps (0 = no cap)."""

    points: int
    contribution: int
    daily_cap: int = 0  # most times per owner per day (China Standard Time)
    yearly_cap: int = 0  # most times per owner per calendar year


EARN_RULES: dict[EarnReason, EarnRule] = {
    EarnReason.DELIVERY: EarnRule(points=5000, contribution=0),
    EarnReason.REFERRAL: EarnRule(points=2000, contribution=20, yearly_cap=20),
    EarnReason.SUGGESTION_ACCEPTED: EarnRule(points=500, contribution=50, daily_cap=3),
    EarnReason.HELPFUL_POST: EarnRule(points=20, contribution=5, daily_cap=5),
    EarnReason.EVENT_CHECKIN: EarnRule(points=100, contribution=10, daily_cap=2),
    EarnReason.DAILY_CHECKIN: EarnRule(points=5, contribution=0, daily_cap=1),
    EarnReason.COMPENSATION: EarnRule(points=0, contribution=0),  # the amount is the staff's decision
}

EXPIRY_YEARS = 2  # earned points lapse at the end of the second calendar year after the year earned
MAX_COMPENSATION = 100_000


def local_day(moment: datetime) -> date:
    """The calendar day of a moment in China Standard Time (daily caps reset at local midnight)."""
    return moment.astimezone(SHANGHAI).date()


def within_caps(rule: EarnRule, *, today_count: int, year_count: int) -> bool:
    """Whether one more award under ``rule`` stays within its daily and yearly caps."""
    if rule.daily_cap and today_count >= rule.daily_cap:
        return False
    return not (rule.yearly_cap and year_count >= rule.yearly_cap)


def expires_at(earned: datetime) -> datetime:
    """When points earned at ``earned`` lapse: local midnight starting year ``earned + EXPIRY_YEARS + 1``."""
    local = earned.astimezone(SHANGHAI)
    return datetime(local.year + EXPIRY_YEARS + 1, 1, 1, tzinfo=SHANGHAI)


@dataclass(frozen=True, slots=True)
class Lot:
    """Points earned together, and when what is left of them lapses."""

    points: int
    expires_at: datetime | None


def lapsed(lots: Sequence[Lot], consumed: int, now: datetime) -> int:
    """Points to expire now: spending and earlier expiries use the oldest lots first (FIFO)."""
    left = consumed
    due = 0
    for lot in sorted(lots, key=lambda lot: (lot.expires_at is None, lot.expires_at or now)):
        used = min(left, lot.points)
        left -= used
        if lot.expires_at is not None and lot.expires_at <= now:
            due += lot.points - used
    return due


@dataclass(frozen=True, slots=True)
class Line:
    """One posting before it is stored: debit positive, credit negative."""

    account: str
    amount: int
    customer_id: int | None = None


def is_balanced(lines: Iterable[Line]) -> bool:
    """Whether the lines of one entry sum to zero."""
    return sum(line.amount for line in lines) == 0


def earned(customer_id: int, points: int) -> list[Line]:
    """The maker grants points: its issued expense rises, so does what it owes the owner."""
    _positive(points)
    return [Line("issued", points), Line("owner", -points, customer_id)]


def spent(customer_id: int, points: int) -> list[Line]:
    """The owner pays with points in the shop."""
    _positive(points)
    return [Line("owner", points, customer_id), Line("redeemed", -points)]


def returned(customer_id: int, points: int) -> list[Line]:
    """A shop refund gives the points back (the reverse of ``spent``)."""
    _positive(points)
    return [Line("redeemed", points), Line("owner", -points, customer_id)]


def expired(customer_id: int, points: int) -> list[Line]:
    """Points lapsed under the expiry policy."""
    _positive(points)
    return [Line("owner", points, customer_id), Line("expired", -points)]


def _positive(points: int) -> None:
    if points <= 0:
        raise ValueError(f"points are positive integers, got {points!r}")


@dataclass(frozen=True, slots=True)
class CartLine:
    """A product and quantity asked for at checkout, with its points price."""

    product_id: int
    quantity: int
    points_each: int
    fen_each: int = 0  # the cash price; 0: this product is sold for points only


def cart_total(lines: Iterable[CartLine]) -> int:
    """What a cart costs in points; quantities must be positive."""
    total = 0
    for line in lines:
        if line.quantity <= 0:
            raise ValueError("quantities are positive")
        total += line.quantity * line.points_each
    return total


def cart_cash_total(lines: Iterable[CartLine]) -> int | None:
    """What a cart costs in cash (fen), or None when any product in it is sold for points only."""
    total = 0
    for line in lines:
        if line.quantity <= 0:
            raise ValueError("quantities are positive")
        if line.fen_each <= 0:
            return None
        total += line.quantity * line.fen_each
    return total


def cash_due(*, total_points: int, total_fen: int, points_used: int) -> int:
    """Cash (fen) still owed when ``points_used`` of a cart's ``total_points`` price are paid in points.

    Points stand in for the cash price pro rata; the cash part rounds up to the fen, so paying the full
    points price leaves nothing to pay and paying no points leaves the full cash price.
    """
    if total_points <= 0 or total_fen < 0:
        raise ValueError("a cart has a positive points price and a cash price of at least 0")
    if not 0 <= points_used <= total_points:
        raise ValueError(f"points used must be between 0 and {total_points}, got {points_used}")
    left = total_points - points_used
    return -(-total_fen * left // total_points)  # ceil(total_fen * left / total_points), in integers

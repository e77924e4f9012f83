"""Campaign rules, pure: who a campaign covers, when orders open, what may change, who wins a perk,
and the live view's arithmetic (paid orders per second, the attribution funnel)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class PerkKind(StrEnum):
    """How an early-bird perk is won."""

    FIRST_PAID = "first_paid"  # the first ``limit`` orders paid after the reveal, in payment order
    LOCKED_WITHIN = "locked_within"  # every order locked within ``hours`` of the reveal


# what may still change once the price is public: only the end may move, and only later
FROZEN_AT_REVEAL = ("models", "trims", "reveal_at", "perk")
MAX_PERK_LIMIT = 10_000_000
MAX_PERK_HOURS = 24 * 30


@dataclass(frozen=True)
class Terms:
    """What a campaign says, as the rules see it (the model row and the console form both give one)."""

    models: tuple[str, ...]
    trims: tuple[str, ...]
    reveal_at: datetime
    ends_at: datetime
    perk: Mapping[str, Any] | None


def covers(terms: Terms, model: str, trim: str | None = None) -> bool:
    """Whether the campaign governs orders for this model (and trim, when the campaign lists trims)."""
    if model not in terms.models:
        return False
    return not terms.trims or trim is None or trim in terms.trims


def is_revealed(reveal_at: datetime, now: datetime) -> bool:
    """Whether the price is public and orders are open (from the reveal second on)."""
    return now >= reveal_at


def is_running(terms: Terms, now: datetime) -> bool:
    """Whether the campaign is between its reveal and its end."""
    return terms.reveal_at <= now < terms.ends_at


def seconds_until(reveal_at: datetime, now: datetime) -> int:
    """Whole seconds left until the reveal (0 once it has passed), for the countdown."""
    return max(0, int((reveal_at - now).total_seconds() + 0.999))


def perk_problems(perk: Mapping[str, Any] | None) -> list[str]:
    """What is wrong with a perk definition (English sentences; empty when it is sound)."""
    if perk is None:
        return []
    problems = []
    kind = perk.get("kind")
    if kind not in set(PerkKind):
        problems.append("The perk must be won by the first paid orders or by locking within some hours.")
    elif kind == PerkKind.FIRST_PAID:
        limit = perk.get("limit")
        if not isinstance(limit, int) or not 1 <= limit <= MAX_PERK_LIMIT:
            problems.append("The perk needs a number of first paid orders between 1 and 10,000,000.")
    else:
        hours = perk.get("hours")
        if not isinstance(hours, int) or not 1 <= hours <= MAX_PERK_HOURS:
            problems.append("The perk needs a number of hours between 1 and 720.")
    if not str(perk.get("title_en", "")).strip() or not str(perk.get("title_zh", "")).strip():
        problems.append("The perk needs a description in Chinese and in English.")
    return problems


def terms_problems(terms: Terms, *, now: datetime, known_models: Iterable[str]) -> list[str]:
    """What is wrong with a campaign's terms (English sentences; empty when it can be saved)."""
    problems = []
    known = set(known_models)
    if not terms.models:
        problems.append("A campaign needs at least one model.")
    unknown = [m for m in terms.models if m not in known]
    if unknown:
        problems.append("The campaign names a model the catalog does not have.")
    if terms.ends_at <= terms.reveal_at:
        problems.append("The campaign must end after its reveal.")
    problems.extend(perk_problems(terms.perk))
    return problems


def changed_fields(before: Terms, after: Terms) -> list[str]:
    """The names of the terms that differ (moments to the second, as the console shows them)."""
    return [
        name
        for name in (*FROZEN_AT_REVEAL, "ends_at")
        if not _same(getattr(before, name), getattr(after, name))
    ]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return abs((a - b).total_seconds()) < 1
    return bool(a == b)


def change_problem(before: Terms, after: Terms, *, now: datetime) -> str | None:
    """Why this change may not be saved now, or None: after the reveal only a later end is allowed,
    and a reveal still to come may not be moved into the past."""
    changed = changed_fields(before, after)
    if is_revealed(before.reveal_at, now):
        if any(name in FROZEN_AT_REVEAL for name in changed):
            return "The price is public: models, trims, reveal and perk can no longer change."
        if "ends_at" in changed and after.ends_at < max(before.ends_at, now):
            return "After the reveal the campaign can only end later, not earlier."
        return None
    if "reveal_at" in changed and after.reveal_at <= now:
        return "A new reveal moment must be in the future."
    return None


def wins_first_paid(perk: Mapping[str, Any] | None, position: int) -> bool:
    """Whether the ``position``-th paid order wins a first-paid perk."""
    return (
        perk is not None and perk.get("kind") == PerkKind.FIRST_PAID and 1 <= position <= int(perk["limit"])
    )


def wins_locked_within(perk: Mapping[str, Any] | None, reveal_at: datetime, locked_at: datetime) -> bool:
    """Whether an order locked at ``locked_at`` wins a lock-within-hours perk."""
    if perk is None or perk.get("kind") != PerkKind.LOCKED_WITHIN:
        return False
    return reveal_at <= locked_at <= reveal_at + timedelta(hours=int(perk["hours"]))


def perk_left(perk: Mapping[str, Any] | None, taken: int) -> int | None:
    """How many first-paid perks are still to win (None when the perk has no count)."""
    if perk is None or perk.get("kind") != PerkKind.FIRST_PAID:
        return None
    return max(0, int(perk["limit"]) - taken)


def per_second(moments: Iterable[datetime], *, now: datetime, window: int) -> list[int]:
    """Counts per whole second over the last ``window`` seconds up to ``now`` (oldest first)."""
    end = int(now.timestamp())
    counts = Counter(int(m.timestamp()) for m in moments)
    return [counts.get(second, 0) for second in range(end - window + 1, end + 1)]


def per_minute(moments: Iterable[datetime], *, start: datetime, minutes: int) -> list[int]:
    """Counts per minute from ``start`` for ``minutes`` minutes (the first hour's chart)."""
    counts = Counter(int((m - start).total_seconds() // 60) for m in moments if m >= start)
    return [counts.get(i, 0) for i in range(minutes)]


@dataclass(frozen=True)
class FunnelRow:
    """One link's (or channel's) way from visits to locked orders."""

    key: str
    visits: int
    reservations: int
    paid: int
    locked: int


def funnel(
    visits: Mapping[str, int],
    orders: Iterable[tuple[str, bool, bool]],
) -> list[FunnelRow]:
    """Visits per key, and orders as (key, paid, locked): rows sorted by paid, then reservations."""
    reserved: Counter[str] = Counter()
    paid: Counter[str] = Counter()
    locked: Counter[str] = Counter()
    for key, is_paid, is_locked in orders:
        reserved[key] += 1
        paid[key] += int(is_paid)
        locked[key] += int(is_locked)
    keys = set(visits) | set(reserved)
    rows = [FunnelRow(k, visits.get(k, 0), reserved[k], paid[k], locked[k]) for k in keys]
    return sorted(rows, key=lambda r: (-r.paid, -r.reservations, r.key))

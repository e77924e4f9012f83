"""Supply rules: part demand per week, the measured conversion, late confirmations, part caps, signatures.

Pure logic: no database, no web. Weeks are production week numbers (``production.rules.week_of``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from carloop.catalog.parts import Part
from carloop.production.rules import configuration_key, week_start
from carloop.production.schemas import CapIn, CapKind, OutageIn, PlanData

CONFIRM_DAYS_AHEAD = 14  # a week's quantity is due two weeks before the week starts; later is late
MIN_CONVERSION_SAMPLE = 20  # fewer decided reservations than this: the conversion is not measured
SIGNATURE_SKEW_SECONDS = 300  # a signed request older or newer than this is refused (replay window)


@dataclass(frozen=True, slots=True)
class Planned:
    """Cars of one configuration in one build week (firm: locked orders) or waiting to lock (week None)."""

    model: str
    trim: str
    options: tuple[str, ...]
    week: int | None
    count: int


@dataclass(frozen=True, slots=True)
class WeekDemand:
    """One part's demand in one week: firm (locked orders) and likely (reserved ones, converted)."""

    part: str
    week: int
    firm: int
    likely: float


def conversion(converted: int, lost: int) -> float | None:
    """The measured share of reservations that locked; None with too few decided ones to say."""
    decided = converted + lost
    if decided < MIN_CONVERSION_SAMPLE:
        return None
    return converted / decided


def demand(
    parts: Sequence[Part],
    locked: Iterable[Planned],
    reserved: Iterable[Planned],
    *,
    first_week: int,
    weeks: int,
    rate: float | None,
) -> list[WeekDemand]:
    """Each part's demand for ``weeks`` weeks from ``first_week``.

    Firm demand is the locked orders planned in the week. A reserved order that locks joins the back
    of its configuration's queue, so its likely demand falls in the week after that queue's last
    planned week (the first week when nothing is queued), weighted by the measured conversion.
    """
    firm: dict[tuple[str, int], int] = defaultdict(int)
    likely: dict[tuple[str, int], float] = defaultdict(float)
    queue_end: dict[str, int] = {}
    for row in locked:
        if row.week is None:
            continue
        key = configuration_key(row.model, row.trim, row.options)
        queue_end[key] = max(queue_end.get(key, row.week), row.week)
        for part in parts:
            if part.used_by(row.model, row.trim, row.options):
                firm[part.code, row.week] += row.count
    if rate:
        for row in reserved:
            key = configuration_key(row.model, row.trim, row.options)
            week = max(queue_end.get(key, first_week - 1) + 1, first_week)
            for part in parts:
                if part.used_by(row.model, row.trim, row.options):
                    likely[part.code, week] += row.count * rate
    return [
        WeekDemand(p.code, w, firm.get((p.code, w), 0), round(likely.get((p.code, w), 0.0), 1))
        for p in parts
        for w in range(first_week, first_week + weeks)
    ]


def short_quantity(firm: int, share: float) -> int:
    """What a supplier short by ``share`` of a week's firm demand still delivers (rounded down)."""
    return max(0, math.floor(firm * (1 - share) + 1e-9))


def deadline(week: int) -> date:
    """The last day to confirm a week's quantity without it counting as late."""
    return week_start(week) - timedelta(days=CONFIRM_DAYS_AHEAD)


def is_late(week: int, today: date) -> bool:
    """Whether a confirmation made on ``today`` for ``week`` is late."""
    return today > deadline(week)


def shortage_reason(part: Part) -> str:
    """Why orders move when a part is short (English; the catalogs translate it per part)."""
    return f"Supply shortage: {part.name_en}"


def restored_reason(part: Part) -> str:
    """Why orders move earlier when a part's supply is full again (names no supplier: buyers read it)."""
    return f"Supply restored: {part.name_en}"


_CODE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")


def valid_code(code: str) -> bool:
    """A supplier code: 2-40 characters of a-z, 0-9 and inner dashes (it names the supplier's parts)."""
    return len(code) >= 2 and _CODE.fullmatch(code) is not None


def replan_reason(supplier_code: str, part: Part, first: str, *, short: bool) -> str:
    """Why HQ's plan changed after a supplier's confirmations (English; msgids in supply.po)."""
    if short:
        return f"Supplier {supplier_code} is short of {part.name_en} from {first}"
    return f"Supplier {supplier_code} is back to full supply of {part.name_en} from {first}"


def cap_code(plan: PlanData, part: Part) -> str:
    """The plan cap that stands for a part's supply: the catalog's ``plan_cap`` if the plan has it."""
    codes = {c.code for c in plan.caps}
    return part.plan_cap if part.plan_cap in codes else part.code


def with_supply(plan: PlanData, part: Part, week: int, quantity: int | None) -> PlanData:
    """The plan with a part's supply in ``week`` capped at ``quantity`` (None: the cap lifted).

    The cap is an outage of the part's cap for that one week, with the part's shortage reason (which
    production gives buyers whose orders move). A part the plan has no cap for gets one, as wide as
    the lines that build its models, so it binds only through the outage.
    """
    code = cap_code(plan, part)
    caps = list(plan.caps)
    if code not in {c.code for c in caps}:
        lines = [line for line in plan.lines if not part.models or part.models & set(line.models)]
        weekly = max(1, sum(line.weekly_capacity for line in lines))
        caps.append(
            CapIn(
                code=code,
                kind=CapKind.PART,
                name=part.name_en[:80],
                weekly=weekly,
                model=next(iter(part.models)) if len(part.models) == 1 else None,
                trims=sorted(part.trims),
                options=sorted(part.options),
            )
        )
    cap = next(c for c in caps if c.code == code)
    monday = week_start(week)
    reason = shortage_reason(part)
    outages = [o for o in plan.outages if not (o.target == code and o.start == monday and o.reason == reason)]
    if quantity is not None and quantity < cap.weekly:
        remaining = max(0.0, quantity / cap.weekly) if cap.weekly else 0.0
        outages.append(OutageIn(target=code, start=monday, weeks=1, remaining=remaining, reason=reason))
    return plan.model_copy(update={"caps": caps, "outages": outages})


def supply_caps(plan: PlanData, part: Part) -> dict[int, int]:
    """The weeks a part's supply is capped in the plan, and the cap (from the part's shortage outages)."""
    code = cap_code(plan, part)
    cap = next((c for c in plan.caps if c.code == code), None)
    if cap is None:
        return {}
    reason = shortage_reason(part)
    found: dict[int, int] = {}
    for o in plan.outages:
        if o.target == code and o.reason == reason:
            week = (o.start - week_start(0)).days // 7
            found[week] = int(cap.weekly * o.remaining + 1e-9)
    return found


# -- signed requests from suppliers' systems -----------------------------------------------------


def sign(key: str, *, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The request signature: hex HMAC-SHA256 of ``timestamp\\nMETHOD\\npath\\n`` followed by the body."""
    message = f"{timestamp}\n{method.upper()}\n{path}\n".encode() + body
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def signature_ok(key: str, given: str, *, timestamp: str, method: str, path: str, body: bytes) -> bool:
    """Whether ``given`` is the request's signature (compared in constant time)."""
    expected = sign(key, timestamp=timestamp, method=method, path=path, body=body)
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def fresh(timestamp: str, now: datetime) -> bool:
    """Whether a request's Unix timestamp is within the replay window of ``now``."""
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    return abs(now.timestamp() - moment) <= SIGNATURE_SKEW_SECONDS

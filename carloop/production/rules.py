"""Production rules: weeks, the plan as counting constraints, delivery windows, and VINs.

Pure logic: no database, no web. The allocation itself (numpy) is in ``allocation.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from carloop.production.schemas import LeadTimes, PlanData

EPOCH = date(2024, 1, 1)  # a Monday: week 0


class Stage(StrEnum):
    """Tracking stages an allocated order goes through, in order."""

    SCHEDULED = "scheduled"  # given a build week
    IN_PRODUCTION = "in_production"  # on the line
    BUILT = "built"  # off the line, VIN assigned
    IN_TRANSIT = "in_transit"  # on its way to the delivery centre
    AT_DELIVERY_CENTRE = "at_delivery_centre"  # arrived, being prepared for handover
    DELIVERED = "delivered"  # handed over


STAGES = tuple(Stage)


def week_of(day: date) -> int:
    """The week number of a day (weeks start on Monday, week 0 is the one of 1 January 2024)."""
    return (day - EPOCH).days // 7


def week_start(week: int) -> date:
    """The Monday of a week number."""
    return EPOCH + timedelta(weeks=week)


# -- the plan as constraints ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Constraint:
    """One weekly counting constraint: a line (for its models) or a cap (for trims/options)."""

    code: str
    kind: str  # "line" or a CapKind
    models: frozenset[str]  # empty: any model
    trims: frozenset[str]
    options: frozenset[str]

    def applies(self, model: str, trim: str, options: Iterable[str]) -> bool:
        """Whether a car of this configuration uses one unit of this constraint."""
        if self.kind == "line":
            return model in self.models
        if self.models and model not in self.models:
            return False
        return trim in self.trims or not self.options.isdisjoint(options)


def constraints(plan: PlanData) -> list[Constraint]:
    """The plan's constraints: one per line, then one per cap."""
    found = [
        Constraint(line.code, "line", frozenset(line.models), frozenset(), frozenset()) for line in plan.lines
    ]
    for cap in plan.caps:
        found.append(
            Constraint(
                cap.code,
                str(cap.kind),
                frozenset([cap.model] if cap.model else []),
                frozenset(cap.trims),
                frozenset(cap.options),
            )
        )
    return found


def signature(found: Sequence[Constraint], model: str, trim: str, options: Iterable[str]) -> tuple[int, ...]:
    """The indexes of the constraints a car of this configuration uses."""
    chosen = frozenset(options)
    return tuple(i for i, c in enumerate(found) if c.applies(model, trim, chosen))


def usage_matrix(found: Sequence[Constraint], signatures: Sequence[tuple[int, ...]]) -> NDArray[np.bool_]:
    """A (constraints x signatures) matrix: True where a signature uses a constraint."""
    uses = np.zeros((len(found), len(signatures)), dtype=bool)
    for s, sig in enumerate(signatures):
        uses[list(sig), s] = True
    return uses


def _ramp(share_start: float, start: date | None, weeks: int, monday: date) -> float:
    if start is None or weeks <= 0:
        return 1.0
    elapsed = (monday - start).days / 7
    if elapsed < 0:
        return 0.0  # the line is not running yet
    return min(1.0, share_start + (1 - share_start) * elapsed / weeks)


def capacity_matrix(plan: PlanData, first_week: int, horizon: int) -> NDArray[np.int64]:
    """Weekly capacity of each constraint for ``horizon`` weeks from ``first_week``."""
    found = constraints(plan)
    weekly = [line.weekly_capacity for line in plan.lines] + [cap.weekly for cap in plan.caps]
    factor = np.ones((len(found), horizon))
    for i, line in enumerate(plan.lines):
        for w in range(horizon):
            factor[i, w] = _ramp(0.5, line.ramp_start, line.ramp_weeks, week_start(first_week + w))
    index = {c.code: i for i, c in enumerate(found)}
    for outage in plan.outages:
        first = week_of(outage.start) - first_week
        span = slice(max(first, 0), max(first + outage.weeks, 0))
        rows = range(len(plan.lines)) if outage.target == "*" else [index[outage.target]]
        for row in rows:
            factor[row, span] *= outage.remaining
    return np.floor(np.asarray(weekly, dtype=float)[:, None] * factor + 1e-9).astype(np.int64)


def cut_reason(plan: PlanData, first_week: int, last_week: int, *, fallback: str) -> str:
    """Why orders planned up to ``last_week`` moved later: the outages in those weeks, else ``fallback``."""
    reasons = [
        o.reason or f"{o.target} at {round(o.remaining * 100)}%"
        for o in plan.outages
        if o.remaining < 1 and week_of(o.start) <= last_week and week_of(o.start) + o.weeks > first_week
    ]
    return "; ".join(dict.fromkeys(reasons)) or fallback


# -- delivery windows ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """When a car should reach its buyer, as a range of days, and how often such windows were kept."""

    build_week: int | None  # None: beyond the plan horizon
    earliest: date | None
    latest: date | None
    confidence: float | None  # measured share of past windows of this kind kept; None: too few yet
    sample: int = 0  # how many delivered orders that share was measured on


# -- honest confidence: how often past windows of the same kind were kept -------------------------

KEPT_BANDS = (2, 6, 12, 26)  # weeks from the promise to the window's end: 0-2, 3-6, 7-12, 13-26, 27+
MIN_SAMPLE = 30  # fewer delivered orders than this in a kind: no percentage is stated
KEPT_LOOKBACK_WEEKS = 8  # windows are measured on the deliveries of the last weeks: a passed
# disruption stops weighing on the share stated once its late deliveries are behind


def band(weeks_ahead: int) -> int:
    """The kind of a window by how far ahead it ends: 0 (within 2 weeks) up to 4 (beyond 26 weeks)."""
    return sum(1 for edge in KEPT_BANDS if weeks_ahead > edge)


@dataclass(frozen=True, slots=True)
class Kept:
    """How many delivered orders of one kind (model, band) were delivered within their first window."""

    kept: int
    total: int

    @property
    def share(self) -> float | None:
        """The share kept, or None while the sample is too small to state one."""
        return self.kept / self.total if self.total >= MIN_SAMPLE else None


KeptRates = dict[tuple[str, int], Kept]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A delivered order's first window: model, weeks from promise to the window's end, kept or not."""

    model: str
    weeks_ahead: int
    kept: bool


def kept_rates(outcomes: Iterable[Outcome]) -> KeptRates:
    """Per model and band, how many first windows were kept out of how many delivered."""
    counts: dict[tuple[str, int], list[int]] = {}
    for o in outcomes:
        tally = counts.setdefault((o.model, band(o.weeks_ahead)), [0, 0])
        tally[0] += int(o.kept)
        tally[1] += 1
    return {key: Kept(kept, total) for key, (kept, total) in sorted(counts.items())}


def was_kept(latest: date | None, delivered: date) -> bool:
    """Whether a window held: the car was handed over by its last day (early counts as kept: the buyer
    got the car sooner; a window beyond the horizon, without dates, never counts as kept)."""
    return latest is not None and delivered <= latest


def stated(rates: KeptRates | None, model: str, weeks_ahead: int) -> Kept:
    """The measured record of windows like this one (nothing measured yet: an empty record)."""
    return (rates or {}).get((model, band(weeks_ahead)), Kept(0, 0))


def calibration_error(pairs: Iterable[tuple[str, int, float, bool]]) -> float | None:
    """Stated vs measured share kept, in points: per kind (model, band) the gap between the mean
    stated share and the share actually kept, averaged weighted by deliveries; None without any."""
    groups: dict[tuple[str, int], list[float]] = {}
    for model, kind, said, kept in pairs:
        g = groups.setdefault((model, kind), [0.0, 0.0, 0.0])
        g[0] += said
        g[1] += float(kept)
        g[2] += 1
    total = sum(g[2] for g in groups.values())
    if not total:
        return None
    gap = sum(abs(g[0] - g[1]) for g in groups.values())  # n * |mean stated - share kept|
    return 100 * gap / total


def delivery_window(
    build_week: int | None,
    *,
    current_week: int,
    lead: LeadTimes,
    today: date | None = None,
    model: str = "",
    rates: KeptRates | None = None,
) -> Window:
    """The delivery window of a car built in ``build_week``: the week plus transport and preparation,
    with the measured share of past windows of its kind (``model``, weeks to its end) that were kept.

    A car may be pulled one week earlier when an order ahead of it is cancelled, so windows more than
    two weeks out open a week earlier than the build week alone would say.
    """
    if build_week is None:
        return Window(None, None, None, None)
    ahead = build_week - current_week
    early = 1 if ahead > 2 else 0
    monday = week_start(build_week)
    earliest = monday - timedelta(weeks=early) + timedelta(days=lead.transport_min + lead.prep_min)
    latest = monday + timedelta(days=6 + lead.transport_max + lead.prep_max)
    record = stated(rates, model, weeks_from(latest, today or week_start(current_week), up=True))
    return Window(build_week, earliest, latest, record.share, record.total)


def weeks_from(day: date, today: date, *, up: bool) -> int:
    """Whole weeks from ``today`` to ``day``, rounded down (or up)."""
    days = (day - today).days
    return max(0, -(-days // 7) if up else days // 7)


# -- VINs (ISO 3779 / 3780, with the North American check digit in position 9) ------------------

_TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # model years 1980 (and 2010) onwards, 30-year cycle


def vin_check_digit(vin: str) -> str:
    """The check character (0-9 or X) for a 17-character VIN; position 9 is ignored."""
    vin = vin.upper()
    if len(vin) != 17 or any(ch not in _TRANSLITERATION for ch in vin):
        raise ValueError(f"not a 17-character VIN: {vin!r}")
    total = sum(_TRANSLITERATION[ch] * weight for ch, weight in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def is_valid_vin(vin: str) -> bool:
    """Whether a VIN has 17 legal characters and a correct check digit in position 9."""
    try:
        return vin_check_digit(vin) == vin.upper()[8]
    except ValueError:
        return False


def model_year_code(year: int) -> str:
    """The position-10 character of a model year (2010 is A, 2024 is R, 2025 is S)."""
    if year < 1980:
        raise ValueError("model years start at 1980")
    return _YEAR_CODES[(year - 1980) % 30]


def make_vin(*, wmi: str, descriptor: str, model_year: int, plant_code: str, serial: int) -> str:
    """A VIN: manufacturer (3), vehicle descriptor (5), check digit, year, plant, serial (6)."""
    if len(wmi) != 3 or len(descriptor) != 5 or len(plant_code) != 1:
        raise ValueError("a VIN needs a 3-character WMI, a 5-character descriptor and a 1-character plant")
    if not 0 < serial < 1_000_000:
        raise ValueError("the serial number has six digits")
    draft = f"{wmi}{descriptor}0{model_year_code(model_year)}{plant_code}{serial:06d}".upper()
    vin = draft[:8] + vin_check_digit(draft) + draft[9:]
    if not is_valid_vin(vin):
        raise ValueError(f"illegal characters in VIN {vin!r}")
    return vin


def vin_descriptor(model: str, trim: str) -> str:
    """The five-character vehicle descriptor of a model and trim (letters I, O and Q are not used)."""
    legal = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    text = "".join(ch for ch in (model + trim).upper() if ch in legal)
    return (text + "00000")[:5]


# -- configurations and the sample plan ----------------------------------------------------------


def configuration_key(model: str, trim: str, options: Iterable[str]) -> str:
    """The configuration a queue is kept for: model, trim, paint and wheels (``su7/pro/paint-x/wheel-19``)."""
    built = sorted(o for o in options if o.startswith(("paint-", "wheel-")))
    return "/".join([model, trim, *built])


def sample_plan(today: date) -> PlanData:
    """One plant, phase 1 (SU7) and phase 2 (YU7, ramping up), 150,000 cars a year each, with caps."""
    monday = week_start(week_of(today))
    return PlanData.model_validate(
        {
            "plant": "Beijing Yizhuang",
            "plant_code": "B",
            "wmi": "LCL",
            "lines": [
                {"code": "phase-1", "name": "Phase 1", "models": ["su7"], "weekly_capacity": 2885},
                {
                    "code": "phase-2",
                    "name": "Phase 2",
                    "models": ["yu7"],
                    "weekly_capacity": 2885,
                    "ramp_start": (monday - timedelta(weeks=4)).isoformat(),
                    "ramp_weeks": 12,
                },
            ],
            "caps": [
                {
                    "code": "ultra",
                    "kind": "trim",
                    "name": "SU7 Ultra",
                    "weekly": 150,
                    "model": "su7",
                    "trims": ["ultra"],
                },
                {
                    "code": "forged-21",
                    "kind": "option",
                    "name": "21-inch forged wheels",
                    "weekly": 400,
                    "options": ["wheel-21-forged"],
                },
                {
                    "code": "lava-orange",
                    "kind": "option",
                    "name": "Lava Orange paint",
                    "weekly": 600,
                    "model": "yu7",
                    "options": ["paint-lava-orange"],
                },
                {
                    "code": "battery-101",
                    "kind": "part",
                    "name": "101 kWh battery pack",
                    "weekly": 2000,
                    "trims": ["max", "founders", "ultra"],
                },
                {
                    "code": "lidar",
                    "kind": "part",
                    "name": "LiDAR unit",
                    "weekly": 3000,
                    "options": ["pack-pilot-max"],
                },
            ],
            "outages": [
                {
                    "target": "*",
                    "start": "2027-02-08",
                    "weeks": 1,
                    "remaining": 0.2,
                    "reason": "Spring Festival holiday",
                },
            ],
        }
    )

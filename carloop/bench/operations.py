"""Operations over time, in memory: an order book, weekly production, transport, deliveries, cancellations.

The simulation drives the same allocation (``allocation.py``) and the same window rules
(``rules.delivery_window``) as the service, at full plant scale, without a database. Each week:
a disruption may start (the plan's capacity is cut, orders move later and their buyers are told that
day); new orders lock and get a window; some waiting orders cancel and the next orders that fit move
in; the week's cars are built, shipped (with a small share of late shipments the plan does not know
about) and handed over after preparation.

Every window states the share of past windows of its kind (model, weeks ahead) that were kept, as the
service does, measured from the orders delivered so far and re-measured at the start of each week; the
report compares what was stated with what was then kept (``calibration_error``, in points).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from carloop.catalog.parts import all_parts
from carloop.production import rules
from carloop.production.allocation import Allocation, Moves, allocate
from carloop.production.schemas import PlanData
from carloop.supply import rules as supply_rules

Config = tuple[str, str, tuple[str, ...]]  # model, trim, options

_MIX: dict[
    str, tuple[float, dict[str, tuple[float, dict[str, float], dict[str, float], tuple[str, ...]]]]
] = {
    "su7": (
        0.55,
        {
            "standard": (
                0.30,
                {
                    "paint-aqua-blue": 0.35,
                    "paint-mineral-gray": 0.25,
                    "paint-pearl-white": 0.25,
                    "paint-diamond-black": 0.15,
                },
                {"wheel-19": 0.6, "wheel-20": 0.4},
                (),
            ),
            "pro": (
                0.27,
                {
                    "paint-aqua-blue": 0.3,
                    "paint-mineral-gray": 0.2,
                    "paint-pearl-white": 0.2,
                    "paint-verdant-green": 0.15,
                    "paint-twilight-purple": 0.15,
                },
                {"wheel-19": 0.5, "wheel-20": 0.5},
                (),
            ),
            "max": (
                0.38,
                {
                    "paint-aqua-blue": 0.3,
                    "paint-diamond-black": 0.3,
                    "paint-twilight-purple": 0.2,
                    "paint-verdant-green": 0.2,
                },
                {"wheel-20": 0.65, "wheel-21-forged": 0.35},
                ("pack-pilot-max",),
            ),
            "ultra": (
                0.05,
                {"paint-ultra-yellow": 0.6, "paint-diamond-black": 0.4},
                {"wheel-21-ultra": 1.0},
                ("pack-pilot-max",),
            ),
        },
    ),
    "yu7": (
        0.45,
        {
            "standard": (
                0.40,
                {
                    "paint-pearl-white": 0.35,
                    "paint-cambrian-gray": 0.3,
                    "paint-lava-orange": 0.2,
                    "paint-emerald-green": 0.15,
                },
                {"wheel-19": 0.6, "wheel-20": 0.4},
                (),
            ),
            "pro": (
                0.30,
                {"paint-pearl-white": 0.3, "paint-lava-orange": 0.3, "paint-titanium": 0.4},
                {"wheel-19": 0.3, "wheel-20": 0.7},
                (),
            ),
            "max": (
                0.30,
                {"paint-lava-orange": 0.4, "paint-titanium": 0.3, "paint-emerald-green": 0.3},
                {"wheel-20": 0.4, "wheel-21": 0.6},
                ("pack-pilot-max",),
            ),
        },
    ),
}


def configuration_mix() -> tuple[list[Config], np.ndarray]:
    """Representative configurations (model, trim, paint, wheels, packs) and their order shares."""
    configs: list[Config] = []
    weights: list[float] = []
    for model, (model_share, trims) in _MIX.items():
        for trim, (trim_share, paints, wheels, packs) in trims.items():
            for (paint, p), (wheel, q) in itertools.product(paints.items(), wheels.items()):
                configs.append((model, trim, (paint, wheel, *packs)))
                weights.append(model_share * trim_share * p * q)
    share = np.asarray(weights) / sum(weights)
    return configs, share


def signature_table(plan: PlanData, configs: list[Config]) -> tuple[np.ndarray, np.ndarray]:
    """The usage matrix of the plan's constraints and each configuration's signature index."""
    found = rules.constraints(plan)
    index: dict[tuple[int, ...], int] = {}
    of_config = [index.setdefault(rules.signature(found, m, t, o), len(index)) for m, t, o in configs]
    return rules.usage_matrix(found, list(index)), np.asarray(of_config, dtype=np.int64)


@dataclass(frozen=True)
class Disruption:
    """A supply cut (one cap), a plant stop (every line), or a supplier's shortage of one catalog part."""

    kind: str  # "supply-cut", "plant-stop" or "supplier-shortage"
    share: float  # how much is lost: 0.3 is a 30% cut, 1.0 a full stop
    weeks: int
    start: int = 4  # weeks after the simulation starts (announced at the start of that week)
    target: str = "battery-101"  # the cap a supply cut hits; the catalog part of a supplier's shortage

    @classmethod
    def parse(cls, spec: str) -> Disruption:
        """``supply-cut:0.3:3``, ``supply-cut:0.3:3:6:lidar`` (start week, cap), ``plant-stop:1:2``,
        ``supplier-shortage:battery-101kwh:0.3:3[:START]`` (a catalog part its supplier confirms short)."""
        parts = spec.split(":")
        if parts[0] == "supplier-shortage":
            return cls._shortage(parts)
        if parts[0] not in ("supply-cut", "plant-stop") or len(parts) < 3:
            raise ValueError(
                "use supply-cut:SHARE:WEEKS[:START[:PART]], plant-stop:SHARE:WEEKS[:START] "
                "or supplier-shortage:PART:SHARE:WEEKS[:START]"
            )
        share, weeks = float(parts[1]), int(parts[2])
        if not 0 < share <= 1 or weeks < 1:
            raise ValueError("the share is in (0, 1] and the weeks at least 1")
        start = int(parts[3]) if len(parts) > 3 else 4
        target = parts[4] if len(parts) > 4 else ("battery-101" if parts[0] == "supply-cut" else "*")
        return cls(parts[0], share, weeks, start, "*" if parts[0] == "plant-stop" else target)

    @classmethod
    def _shortage(cls, parts: list[str]) -> Disruption:
        if len(parts) < 4:
            raise ValueError("use supplier-shortage:PART:SHARE:WEEKS[:START]")
        if parts[1] not in all_parts():
            raise ValueError(f"no part {parts[1]!r}; the parts are {', '.join(sorted(all_parts()))}")
        share, weeks = float(parts[2]), int(parts[3])
        if not 0 < share <= 1 or weeks < 1:
            raise ValueError("the share is in (0, 1] and the weeks at least 1")
        return cls("supplier-shortage", share, weeks, int(parts[4]) if len(parts) > 4 else 4, parts[1])


@dataclass
class _Promise:
    first: tuple[date, date]
    latest: date
    locked_day: int
    config: int
    moved_later: bool = False
    told_before_breach: bool = True
    ahead: int = 0  # weeks from the promise to the first window's end (its kind, with the model)
    stated: float | None = None  # the share kept stated with the first window (None: too few yet)


@dataclass
class Report:
    """What a simulation measured."""

    weeks: int
    orders_locked: int = 0
    cancelled: int = 0
    delivered: int = 0
    delivered_in_first_window: int = 0
    delivered_after_promise_without_notice: int = 0
    moved_later: int = 0
    told_before_breach: int = 0
    moved_earlier: int = 0
    waits: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outcomes: list[tuple[int, rules.Outcome]] = field(default_factory=list)  # day delivered, window
    stated: list[tuple[str, int, float, bool]] = field(default_factory=list)  # model, band, said, kept

    def as_dict(self, disruption: str | None) -> dict[str, object]:
        """The JSON report."""
        return {
            "weeks": self.weeks,
            "disruption": disruption,
            "orders_locked": self.orders_locked,
            "cancelled": self.cancelled,
            "delivered": self.delivered,
            "eta_hit_rate": round(self.delivered_in_first_window / self.delivered, 4)
            if self.delivered
            else None,
            "windows_moved_later": self.moved_later,
            "renotified_before_breach": (
                round(self.told_before_breach / self.moved_later, 4) if self.moved_later else None
            ),
            "windows_moved_earlier": self.moved_earlier,
            "late_without_notice": self.delivered_after_promise_without_notice,
            "mean_wait_weeks": {k: round(float(np.mean(v)) / 7, 2) for k, v in sorted(self.waits.items())},
            **self.calibration(),
        }

    def calibration(self) -> dict[str, object]:
        """Stated vs measured share of windows kept over the deliveries whose window stated a share."""
        error = rules.calibration_error(self.stated)
        n = len(self.stated)
        return {
            "calibration_error": round(error, 2) if error is not None else None,
            "windows_with_stated_share": n,
            "stated_share": round(sum(p[2] for p in self.stated) / n, 4) if n else None,
            "kept_share_of_stated": round(sum(p[3] for p in self.stated) / n, 4) if n else None,
        }


def simulate(
    *,
    weeks: int,
    disruption: Disruption | None = None,
    seed: int = 1,
    start: date = date(2026, 3, 2),
    backlog_weeks: float = 8.0,
    intake: float = 0.97,
    cancel_rate: float = 0.004,
    late_shipments: float = 0.02,
    history: int = 12,
    progress: object | None = None,
) -> Report:
    """Advance ``weeks`` weeks of operations and measure the promises kept.

    The plant has run ``history`` weeks before (not reported): their deliveries are what the first
    reported windows' stated shares are measured on, as in a live system with a past.
    """
    rng = np.random.default_rng(seed)
    start = start - timedelta(weeks=history)
    plan = rules.sample_plan(start)
    week0 = rules.week_of(start)
    if disruption is not None and disruption.kind == "supplier-shortage":
        plan = supply_rules.with_supply(plan, all_parts()[disruption.target], week0, None)  # its cap exists
    horizon = history + weeks + plan.horizon_weeks
    capacity = rules.capacity_matrix(plan, week0, horizon)
    configs, share = configuration_mix()
    uses, sig_of = signature_table(plan, configs)
    lead = plan.lead
    n_lines = len(plan.lines)
    weekly = int(capacity[:n_lines, : plan.horizon_weeks].sum(axis=0).mean())
    report = Report(weeks=weeks)
    promises: dict[int, _Promise] = {}
    ids = itertools.count(1)

    rates: rules.KeptRates = {}

    def promise(order: int, week: int, today: int) -> tuple[date, date]:
        window = rules.delivery_window(
            week0 + week if week < horizon else None, current_week=week0 + today // 7, lead=lead
        )
        if window.earliest is None or window.latest is None:
            far = start + timedelta(weeks=horizon + 8)
            return far, far
        return window.earliest, window.latest

    def first_promise(order: int, week: int, today: int, cfg: int) -> _Promise:
        """A first window, with the share of its kind kept so far (as the service states it)."""
        first = promise(order, week, today)
        ahead = rules.weeks_from(first[1], start + timedelta(days=max(today, 0)), up=True)
        said = rules.stated(rates, configs[cfg][0], ahead).share
        return _Promise(first, first[1], today, cfg, ahead=ahead, stated=said)

    # The book at the start: orders locked over the past weeks, allocated from scratch.
    n0 = int(backlog_weeks * weekly)
    cfg0 = rng.choice(len(configs), size=n0, p=share)
    ids0 = np.fromiter(itertools.islice(ids, n0), dtype=np.int64, count=n0)
    alloc = allocate(uses, capacity, ids0, sig_of[cfg0], np.arange(n0), frozen=0)
    for order, week, cfg in zip(
        ids0.tolist(), alloc.week[np.argsort(alloc.ids)].tolist(), cfg0.tolist(), strict=True
    ):
        promises[order] = first_promise(order, week, 0, cfg)
        promises[order].locked_day = -int(rng.integers(7, 90))
    report.orders_locked += n0
    rank = n0
    config_of = dict(zip(ids0.tolist(), cfg0.tolist(), strict=True))

    def apply_moves(moves: Moves, today: int) -> None:
        for order, to_week in zip(moves.order.tolist(), moves.to_week.tolist(), strict=True):
            p = promises[order]
            new = promise(order, to_week, today)
            if new[1] > p.latest:
                # The buyer is told the day of the re-plan: was that before the promised window ended?
                told = start + timedelta(days=today) < p.latest
                if not p.moved_later:
                    report.moved_later += 1
                    report.told_before_breach += told
                elif p.told_before_breach and not told:
                    report.told_before_breach -= 1
                p.told_before_breach = p.told_before_breach and told
                p.moved_later = True
                p.latest = new[1]
            elif new[1] < p.latest:
                report.moved_earlier += 1
                p.latest = new[1]

    for t in range(history + weeks):
        today = 7 * t
        if t == history and history:  # the reported weeks start: count from here
            report = Report(weeks=weeks, outcomes=report.outcomes)
        # The daily job's measurement (at each week's start): the deliveries of the last weeks.
        recent = today - 7 * rules.KEPT_LOOKBACK_WEEKS
        report.outcomes = [(d, o) for d, o in report.outcomes if d >= recent]
        rates = rules.kept_rates(o for _, o in report.outcomes)
        alloc.frozen = t + plan.frozen_weeks
        started = disruption is not None and t == history + disruption.start
        if disruption is not None and started and disruption.kind == "supplier-shortage":
            plan = _confirm_short(plan, alloc, config_of, configs, disruption, week0, t)
            capacity = rules.capacity_matrix(plan, week0, horizon)
            apply_moves(alloc.recapacitate(capacity), today)
        elif disruption is not None and started:
            cut = capacity.copy()
            rows = (
                range(n_lines)
                if disruption.target == "*"
                else [[c.code for c in rules.constraints(plan)].index(disruption.target)]
            )
            for row in rows:
                cut[row, t : t + disruption.weeks] = np.floor(
                    cut[row, t : t + disruption.weeks] * (1 - disruption.share)
                ).astype(np.int64)
            capacity = cut
            apply_moves(alloc.recapacitate(cut), today)
        # New locks during the week.
        n_new = int(rng.poisson(intake * weekly))
        cfg_new = rng.choice(len(configs), size=n_new, p=share)
        new_ids = np.fromiter(itertools.islice(ids, n_new), dtype=np.int64, count=n_new)
        placed = alloc.extend(new_ids, sig_of[cfg_new], np.arange(rank, rank + n_new))
        rank += n_new
        days = np.sort(rng.integers(0, 7, n_new))
        for order, cfg, week, day in zip(
            new_ids.tolist(), cfg_new.tolist(), placed.tolist(), days.tolist(), strict=True
        ):
            promises[order] = first_promise(order, week, today + day, cfg)
            config_of[order] = cfg
        report.orders_locked += n_new
        # Cancellations among orders waiting beyond the frozen weeks.
        waiting = alloc.ids[alloc.alive & (alloc.week >= alloc.frozen)]
        n_cancel = int(rng.binomial(len(waiting), cancel_rate)) if len(waiting) else 0
        for order in rng.choice(waiting, size=n_cancel, replace=False).tolist() if n_cancel else []:
            apply_moves(alloc.cancel(int(order)), today + 3)
            report.cancelled += 1
            promises.pop(int(order), None)
        # This week's cars: built, shipped, prepared, handed over.
        built = np.flatnonzero(alloc.alive & (alloc.week == t))
        for i in built.tolist():
            order = int(alloc.ids[i])
            p = promises.pop(order)
            transport = int(rng.integers(lead.transport_min, lead.transport_max + 1))
            if rng.random() < late_shipments:
                transport += int(rng.integers(1, 7))
            day = (
                today
                + int(rng.integers(0, 7))
                + transport
                + int(rng.integers(lead.prep_min, lead.prep_max + 1))
            )
            handed = start + timedelta(days=day)
            report.delivered += 1
            report.delivered_in_first_window += p.first[0] <= handed <= p.first[1]
            kept = rules.was_kept(p.first[1], handed)
            model = configs[p.config][0]
            report.outcomes.append((day, rules.Outcome(model, p.ahead, kept)))
            if p.stated is not None:
                report.stated.append((model, rules.band(p.ahead), p.stated, kept))
            if handed > p.latest and not p.moved_later:
                report.delivered_after_promise_without_notice += 1
            model, trim, _ = configs[p.config]
            report.waits[f"{model}/{trim}"].append(day - p.locked_day)
        alloc.remove(built)
        if callable(progress) and t >= history:
            progress(t + 1 - history)
    return report


def _confirm_short(
    plan: PlanData,
    alloc: Allocation,
    config_of: dict[int, int],
    configs: list[Config],
    disruption: Disruption,
    week0: int,
    t: int,
) -> PlanData:
    """The supplier's flag as the portal handles it: each short week confirmed at the firm demand less
    the share (``supply.rules.short_quantity``), put into the plan as the part's cap (``with_supply``)."""
    part = all_parts()[disruption.target]
    uses = np.array([part.used_by(m, trim, o) for m, trim, o in configs], dtype=bool)
    for w in range(t, t + disruption.weeks):
        rows = np.flatnonzero(alloc.alive & (alloc.week == w))
        firm = int(uses[[config_of[int(i)] for i in alloc.ids[rows].tolist()]].sum()) if rows.size else 0
        quantity = supply_rules.short_quantity(firm, disruption.share)
        plan = supply_rules.with_supply(plan, part, week0 + w, quantity if quantity < firm else None)
    return plan

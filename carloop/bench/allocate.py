"""``carloop bench allocate`` and ``carloop simulate operations``: allocation speed and promises kept."""

from __future__ import annotations

import time
from typing import Any


def run_allocate(*, orders: int, weeks: int, seed: int, show: bool) -> dict[str, Any]:
    """Time a full allocation of ``orders`` and two re-plans (one cancellation, one capacity cut)."""
    import numpy as np

    from carloop.bench.operations import configuration_mix, signature_table
    from carloop.production import rules
    from carloop.production.allocation import allocate

    rng = np.random.default_rng(seed)
    plan = rules.sample_plan(rules.week_start(rules.week_of(time_today())))
    week0 = rules.week_of(time_today())
    capacity = rules.capacity_matrix(plan, week0, weeks)
    # Scale the plant so that the book is about 110% of what the horizon can build: every week is
    # contested and the constraints bind, as on a launch with a long queue.
    scale = orders / (1.1 * capacity[: len(plan.lines)].sum())
    capacity = np.floor(capacity * scale).astype(np.int64)
    configs, share = configuration_mix()
    uses, sig_of = signature_table(plan, configs)
    cfg = rng.choice(len(configs), size=orders, p=share)
    ids = np.arange(orders, dtype=np.int64)
    rank = rng.permutation(orders)
    if show:
        print(
            f"allocating {orders:,} orders over {weeks} weeks "
            f"({uses.shape[0]} constraints, {uses.shape[1]} signatures)"
        )
    started = time.perf_counter()
    alloc = allocate(uses, capacity, ids, sig_of[cfg], rank, frozen=0)
    seconds = time.perf_counter() - started
    beyond = int((alloc.week == weeks).sum())
    overfull = int((alloc.load[:, :weeks] > capacity).sum())
    alloc.frozen = 1
    # Re-plan 1: cancel an order in week 10 (its slot goes to the next order that fits).
    victim = int(alloc.ids[np.flatnonzero(alloc.week == min(10, weeks - 1))[0]])
    started = time.perf_counter()
    cancel_moves = alloc.cancel(victim)
    cancel_ms = (time.perf_counter() - started) * 1000
    # Re-plan 2: a 30% cut of the 101 kWh battery supply for 3 weeks from week 4.
    cut = capacity.copy()
    row = [c.code for c in rules.constraints(plan)].index("battery-101")
    cut[row, 4:7] = np.floor(cut[row, 4:7] * 0.7).astype(np.int64)
    started = time.perf_counter()
    cut_moves = alloc.recapacitate(cut)
    cut_ms = (time.perf_counter() - started) * 1000
    # Re-plan 3: one more week of line capacity (an extra shift) in week 8.
    more = cut.copy()
    more[0, 8] += 200
    started = time.perf_counter()
    more_moves = alloc.recapacitate(more)
    more_ms = (time.perf_counter() - started) * 1000
    return {
        "orders": orders,
        "weeks": weeks,
        "constraints": int(uses.shape[0]),
        "signatures": int(uses.shape[1]),
        "seconds": round(seconds, 3),
        "placed": orders - beyond,
        "beyond_horizon": beyond,
        "overfull_cells": overfull,
        "replan_ms": {
            "cancellation": round(cancel_ms, 2),
            "capacity_cut": round(cut_ms, 2),
            "capacity_increase": round(more_ms, 2),
        },
        "moves": {
            "cancellation": len(cancel_moves),
            "capacity_cut_later": cut_moves.later(),
            "capacity_cut_earlier": cut_moves.earlier(),
            "capacity_increase_earlier": more_moves.earlier(),
        },
    }


def time_today() -> Any:
    """Today's date in the business's zone."""
    from carloop.production.service import today

    return today()


def run_operations(*, weeks: int, disruption: str | None, seed: int, show: bool) -> dict[str, Any]:
    """Simulate ``weeks`` of operations (``disruption`` as ``Disruption.parse`` reads it); the report.

    Raises ``ValueError`` when ``disruption`` does not parse.
    """
    from carloop.bench.operations import Disruption, simulate

    spec = Disruption.parse(disruption) if disruption else None
    started = time.perf_counter()
    if not show:
        report = simulate(weeks=weeks, disruption=spec, seed=seed)
    else:
        from rich.progress import Progress

        with Progress() as bar:
            task = bar.add_task("weeks", total=weeks)
            report = simulate(
                weeks=weeks,
                disruption=spec,
                seed=seed,
                progress=lambda done: bar.update(task, completed=done),
            )
    result = report.as_dict(disruption)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result

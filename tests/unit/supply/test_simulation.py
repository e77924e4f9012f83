"""simulate operations with a supplier-shortage: the flag caps move orders; buyers are told in time."""

from __future__ import annotations

import pytest

from carloop.bench.operations import Disruption, simulate


def test_a_supplier_shortage_names_a_catalog_part() -> None:
    found = Disruption.parse("supplier-shortage:battery-101kwh:0.3:3")
    assert (found.kind, found.target, found.share, found.weeks, found.start) == (
        "supplier-shortage",
        "battery-101kwh",
        0.3,
        3,
        4,
    )
    with pytest.raises(ValueError, match="no part"):
        Disruption.parse("supplier-shortage:flux-capacitor:0.3:3")
    with pytest.raises(ValueError, match="share"):
        Disruption.parse("supplier-shortage:lidar:1.5:3")


@pytest.mark.parametrize("part", ["battery-101kwh", "battery-94kwh"])
def test_a_short_supplier_moves_orders_later_and_every_buyer_is_told_before_the_window_passes(
    part: str,
) -> None:
    quiet = simulate(weeks=3, seed=3, backlog_weeks=2)
    short = simulate(
        weeks=3, seed=3, backlog_weeks=2, disruption=Disruption.parse(f"supplier-shortage:{part}:0.3:2:1")
    )
    assert short.moved_later > quiet.moved_later
    assert short.told_before_breach == short.moved_later

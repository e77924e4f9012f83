"""Plan rules: weeks, capacity with ramp-up and outages, signatures, delivery windows."""

from __future__ import annotations

from datetime import date, timedelta

from carloop.production import rules
from carloop.production.schemas import LeadTimes, PlanData


def _plan(**extra: object) -> PlanData:
    data: dict[str, object] = {
        "plant": "P",
        "plant_code": "B",
        "wmi": "LCL",
        "lines": [{"code": "l1", "name": "L1", "models": ["su7"], "weekly_capacity": 100}],
        "caps": [
            {
                "code": "ultra",
                "kind": "trim",
                "name": "Ultra",
                "weekly": 10,
                "model": "su7",
                "trims": ["ultra"],
            },
            {
                "code": "forged",
                "kind": "option",
                "name": "Forged",
                "weekly": 20,
                "options": ["wheel-21-forged"],
            },
        ],
    }
    data.update(extra)
    return PlanData.model_validate(data)


def test_weeks_start_on_monday() -> None:
    assert rules.week_start(rules.week_of(date(2026, 11, 25))) == date(2026, 11, 23)
    assert rules.week_of(date(2024, 1, 1)) == 0 and rules.week_of(date(2024, 1, 7)) == 0


def test_signatures_name_the_constraints_a_car_uses() -> None:
    found = rules.constraints(_plan())
    assert rules.signature(found, "su7", "ultra", []) == (0, 1)
    assert rules.signature(found, "su7", "max", ["wheel-21-forged"]) == (0, 2)
    assert rules.signature(found, "yu7", "max", []) == ()


def test_an_outage_cuts_capacity_in_its_weeks_only() -> None:
    first = rules.week_of(date(2026, 11, 23))
    stop = {"target": "l1", "start": "2026-11-30", "weeks": 2, "remaining": 0.25, "reason": "stop"}
    capacity = rules.capacity_matrix(_plan(outages=[stop]), first, 4)
    assert capacity[0].tolist() == [100, 25, 25, 100]
    assert capacity[1].tolist() == [10, 10, 10, 10]
    assert rules.cut_reason(_plan(outages=[stop]), first, first + 1, fallback="x") == "stop"
    assert rules.cut_reason(_plan(outages=[stop]), first, first, fallback="x") == "x"


def test_a_new_line_ramps_up_from_half_capacity() -> None:
    lines = [
        {
            "code": "l1",
            "name": "L1",
            "models": ["su7"],
            "weekly_capacity": 100,
            "ramp_start": "2026-11-23",
            "ramp_weeks": 4,
        }
    ]
    capacity = rules.capacity_matrix(_plan(lines=lines), rules.week_of(date(2026, 11, 16)), 7)
    assert capacity[0].tolist() == [0, 50, 62, 75, 87, 100, 100]


def test_a_window_spans_the_build_week_transport_and_preparation() -> None:
    lead = LeadTimes(transport_min=2, transport_max=7, prep_min=1, prep_max=3)
    week = rules.week_of(date(2026, 12, 7))
    near = rules.delivery_window(week, current_week=week - 1, lead=lead)
    assert near.earliest == date(2026, 12, 10) and near.latest == date(2026, 12, 7) + timedelta(days=16)
    far = rules.delivery_window(week, current_week=week - 10, lead=lead)
    assert far.earliest == near.earliest - timedelta(weeks=1) and far.latest == near.latest
    assert far.confidence is None and near.confidence is None  # nothing measured: nothing stated
    assert rules.delivery_window(None, current_week=week, lead=lead).latest is None


def test_configuration_keys_keep_paint_and_wheels() -> None:
    key = rules.configuration_key("su7", "pro", ["pack-sound", "wheel-20", "paint-aqua-blue"])
    assert key == "su7/pro/paint-aqua-blue/wheel-20"

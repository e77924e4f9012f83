"""Supply rules: demand per part and week, conversion, lateness, supply caps in the plan, signatures."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.catalog.parts import all_parts, compile_parts, parts_of, supplied_by
from carloop.production import rules as production_rules
from carloop.production.schemas import PlanData
from carloop.supply import rules
from carloop.web.i18n import translate_message, translations

PARTS = all_parts()


def _plan(weekly: int = 100, caps: list[dict[str, object]] | None = None) -> PlanData:
    return PlanData.model_validate(
        {
            "plant": "P",
            "plant_code": "T",
            "wmi": "LT1",
            "lines": [
                {"code": "l1", "name": "L1", "models": ["su7"], "weekly_capacity": weekly},
                {"code": "l2", "name": "L2", "models": ["yu7"], "weekly_capacity": 50},
            ],
            "caps": caps or [],
        }
    )


def test_the_bill_of_materials_gives_a_max_its_big_battery_and_lidar() -> None:
    codes = {p.code for p in parts_of("su7", "max", ["pack-pilot-max", "wheel-20"])}
    assert codes == {"battery-101kwh", "lidar"}
    assert {p.code for p in parts_of("yu7", "standard", ["paint-lava-orange"])} == {
        "battery-73kwh",
        "paint-lava-orange",
    }
    assert {p.code for p in supplied_by("coatings-east")} == {"paint-lava-orange", "seat-alcantara"}


def test_a_part_without_trims_or_options_is_refused() -> None:
    with pytest.raises(ValueError, match="trims or options"):
        compile_parts(
            {"parts": [{"code": "x", "name_en": "X", "name_zh": "X", "kind": "seat", "supplier": "s"}]}
        )
    bad = {"code": "x", "name_en": "X", "name_zh": "X", "kind": "tyre", "supplier": "s", "trims": ["max"]}
    with pytest.raises(ValueError, match="kind"):
        compile_parts({"parts": [bad]})


def test_every_parts_shortage_reason_reads_in_chinese() -> None:
    catalog = translations("zh_CN")._catalog
    missing = [rules.shortage_reason(p) for p in PARTS.values() if not catalog.get(rules.shortage_reason(p))]
    assert not missing


def test_a_suppliers_re_plan_reads_in_chinese_for_every_part() -> None:
    for part in PARTS.values():
        for short in (True, False):
            reason = rules.replan_reason("ningde-cells", part, "2026-12-14", short=short)
            zh = translate_message("zh_CN", reason)  # the plan version's reason, on HQ's plan page
            assert zh.startswith("供应商 ningde-cells 自 2026-12-14 起"), zh
            assert part.name_zh in zh and part.name_en not in zh, zh
        assert translate_message("zh_CN", rules.shortage_reason(part)) == f"零部件供应短缺：{part.name_zh}"


def test_firm_demand_counts_planned_cars_and_likely_follows_the_queue_at_the_conversion() -> None:
    battery = PARTS["battery-101kwh"]
    locked = [
        rules.Planned("su7", "max", ("wheel-20",), 10, 3),
        rules.Planned("su7", "max", ("wheel-20",), 11, 2),
        rules.Planned("su7", "pro", (), 10, 5),
    ]
    reserved = [
        rules.Planned("su7", "max", ("wheel-20",), None, 10),
        rules.Planned("su7", "ultra", (), None, 4),
    ]
    found = rules.demand([battery], locked, reserved, first_week=10, weeks=3, rate=0.5)
    assert [(d.week, d.firm, d.likely) for d in found] == [(10, 3, 2.0), (11, 2, 0.0), (12, 0, 5.0)]
    unmeasured = rules.demand([battery], locked, reserved, first_week=10, weeks=3, rate=None)
    assert [d.likely for d in unmeasured] == [0.0, 0.0, 0.0]


def test_conversion_needs_enough_decided_reservations() -> None:
    assert rules.conversion(5, 4) is None
    assert rules.conversion(15, 5) == 0.75


def test_a_confirmation_is_late_after_the_deadline_two_weeks_before_the_week() -> None:
    week = production_rules.week_of(date(2026, 12, 28))
    assert rules.deadline(week) == date(2026, 12, 14)
    assert not rules.is_late(week, date(2026, 12, 14))
    assert rules.is_late(week, date(2026, 12, 15))


def test_a_short_week_becomes_an_outage_of_the_parts_cap_and_can_be_lifted() -> None:
    plan = _plan(caps=[{"code": "battery-101", "kind": "part", "name": "B", "weekly": 80, "trims": ["max"]}])
    battery = PARTS["battery-101kwh"]
    week = production_rules.week_of(date(2026, 12, 28))
    capped = rules.with_supply(plan, battery, week, 56)
    assert rules.supply_caps(capped, battery) == {week: 56}
    row = production_rules.constraints(capped).index(
        next(c for c in production_rules.constraints(capped) if c.code == "battery-101")
    )
    matrix = production_rules.capacity_matrix(capped, week, 2)
    assert matrix[row].tolist() == [56, 80]
    again = rules.with_supply(capped, battery, week, 40)
    assert rules.supply_caps(again, battery) == {week: 40} and len(again.outages) == 1
    assert rules.with_supply(again, battery, week, None).outages == []


def test_a_part_the_plan_has_no_cap_for_gets_one_as_wide_as_its_lines() -> None:
    paint = PARTS["paint-lava-orange"]
    week = production_rules.week_of(date(2026, 12, 28))
    capped = rules.with_supply(_plan(), paint, week, 30)
    cap = next(c for c in capped.caps if c.code == "paint-lava-orange")
    assert cap.weekly == 50 and cap.model == "yu7" and cap.options == ["paint-lava-orange"]
    assert rules.supply_caps(capped, paint) == {week: 30}


@given(weekly=st.integers(1, 100_000), quantity=st.integers(0, 100_000))
def test_the_cap_in_the_plan_is_exactly_the_confirmed_quantity(weekly: int, quantity: int) -> None:
    plan = _plan(
        caps=[{"code": "battery-101", "kind": "part", "name": "B", "weekly": weekly, "trims": ["max"]}]
    )
    week = production_rules.week_of(date(2026, 12, 28))
    capped = rules.with_supply(plan, PARTS["battery-101kwh"], week, quantity)
    row = [c.code for c in production_rules.constraints(capped)].index("battery-101")
    assert int(production_rules.capacity_matrix(capped, week, 1)[row, 0]) == min(quantity, weekly)


def test_a_signature_checks_key_time_method_path_and_body() -> None:
    good = rules.sign("k", timestamp="100", method="post", path="/api/v1/supplier/x", body=b"{}")
    assert rules.signature_ok(
        "k", good, timestamp="100", method="POST", path="/api/v1/supplier/x", body=b"{}"
    )
    x, y = "/api/v1/supplier/x", "/api/v1/supplier/y"
    wrong = (("j", "100", x, b"{}"), ("k", "101", x, b"{}"), ("k", "100", y, b"{}"), ("k", "100", x, b"[]"))
    for key, ts, path, body in wrong:
        assert not rules.signature_ok(key, good, timestamp=ts, method="POST", path=path, body=body)
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert rules.fresh(str(int(now.timestamp()) - 299), now)
    assert not rules.fresh(str(int(now.timestamp()) - 301), now)
    assert not rules.fresh("soon", now)


@pytest.mark.parametrize("given", ["é", "签名", "ａｂｃ"])
def test_a_signature_with_characters_outside_ascii_is_simply_wrong(given: str) -> None:
    assert not rules.signature_ok("k", given, timestamp="100", method="GET", path="/x", body=b"")

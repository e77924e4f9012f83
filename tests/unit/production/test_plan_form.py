"""The plan form: a plan written out as form fields reads back as the same plan; blank rows add nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

from carloop.production import plan_form
from carloop.production.rules import sample_plan
from carloop.production.schemas import PlanData


def _fields(rows: dict[str, Any]) -> dict[str, str]:
    """The form a browser posts for ``rows`` (every cell, the blank rows included)."""
    form = {f: rows[f] for f in plan_form.PLAN_FIELDS}
    form.update({f"lead.{f}": v for f, v in rows["lead"].items()})
    for section, key in (("line", "lines"), ("cap", "caps"), ("outage", "outages")):
        for i, row in enumerate(rows[key]):
            form.update({f"{section}.{i}.{f}": v for f, v in row.items()})
    return form


def test_the_sample_plan_survives_the_form_unchanged() -> None:
    plan = sample_plan(date(2026, 12, 7))
    rows = plan_form.rows_of(plan)
    assert all(not any(r.values()) for r in (rows["lines"][-1], rows["caps"][-1], rows["outages"][-1]))
    again = PlanData.model_validate(plan_form.plan_from_form(_fields(rows)))
    assert again == plan


def test_a_filled_blank_row_adds_and_a_cleared_code_removes() -> None:
    plan = sample_plan(date(2026, 12, 7))
    rows = plan_form.rows_of(plan)
    rows["outages"][-1] = {
        "target": "*", "start": "2027-02-08", "weeks": "1", "remaining": "0", "reason": "Spring Festival",
    }  # fmt: skip
    removed = rows["caps"][0]["code"]
    rows["caps"][0]["code"] = ""
    again = PlanData.model_validate(plan_form.plan_from_form(_fields(rows)))
    assert again.outages[-1].target == "*" and again.outages[-1].remaining == 0
    assert len(again.outages) == len(plan.outages) + 1
    assert removed not in {c.code for c in again.caps}


def test_a_refused_form_is_shown_back_as_typed() -> None:
    form = {"plant": "X", "line.0.code": "l1", "line.0.weekly_capacity": "lots", "line.1.code": ""}
    rows = plan_form.rows_of_form(form)
    assert rows["lines"][0]["weekly_capacity"] == "lots" and not any(rows["lines"][-1].values())

"""The production plan as a form: PlanData to rows of fields and back (the staff page edits it without JSON).

Field names are ``<section>.<row>.<field>`` (``line.0.weekly_capacity``); each table gets one blank row
to add to, and a row whose code (or, for outages, target) is left blank is dropped. Lists (a line's
models, a cap's trims and options) are comma- or space-separated; an outage's remaining capacity is a
percentage.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any

from carloop.production.schemas import CapKind, PlanData

LINE_FIELDS = ("code", "name", "models", "weekly_capacity", "ramp_start", "ramp_weeks")
CAP_FIELDS = ("code", "kind", "name", "weekly", "model", "trims", "options")
OUTAGE_FIELDS = ("target", "start", "weeks", "remaining", "reason")
LEAD_FIELDS = ("transport_min", "transport_max", "prep_min", "prep_max")
PLAN_FIELDS = ("plant", "plant_code", "wmi", "horizon_weeks", "frozen_weeks")
LISTS = frozenset({"models", "trims", "options"})
KEYED = {"line": "code", "cap": "code", "outage": "target"}
MAX_ROWS = 60


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def rows_of(plan: PlanData) -> dict[str, Any]:
    """The plan as form values: scalars, and for lines, caps and outages rows plus one blank row."""
    data = plan.model_dump(mode="json")
    rows: dict[str, Any] = {f: _text(data[f]) for f in PLAN_FIELDS}
    rows["lead"] = {f: _text(data["lead"][f]) for f in LEAD_FIELDS}
    for section, fields, key in (
        ("line", LINE_FIELDS, "lines"),
        ("cap", CAP_FIELDS, "caps"),
        ("outage", OUTAGE_FIELDS, "outages"),
    ):
        listed = []
        for item in data[key]:
            row = {f: _text(item.get(f)) for f in fields}
            if section == "outage":
                row["remaining"] = _text(round(float(item["remaining"]) * 100))
            listed.append(row)
        listed.append(dict.fromkeys(fields, ""))
        rows[key] = listed
    rows["kinds"] = [str(k) for k in CapKind]
    return rows


def _split(value: str) -> list[str]:
    return [part for part in re.split(r"[\s,，、]+", value.strip()) if part]


def _rows(form: Mapping[str, str], section: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for index in range(MAX_ROWS):
        row = {f: form.get(f"{section}.{index}.{f}", "").strip() for f in fields}
        if not any(row.values()) and f"{section}.{index}.{fields[0]}" not in form:
            break
        if not row[KEYED[section]]:
            continue  # a blank row (the one offered for adding, or a row emptied to remove it)
        item: dict[str, Any] = {}
        for f, value in row.items():
            if f in LISTS:
                item[f] = _split(value)
            elif value == "" and f in ("ramp_start", "model"):
                item[f] = None
            elif value != "" or f in ("name", "reason"):
                item[f] = value
        if section == "outage" and item.get("remaining", "") != "":
            with contextlib.suppress(ValueError):  # left as typed: validation names the field
                item["remaining"] = float(item["remaining"]) / 100
        found.append(item)
    return found


def plan_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The plan a submitted form describes, as data for ``PlanData.model_validate`` (which checks it)."""
    data: dict[str, Any] = {f: form.get(f, "").strip() for f in PLAN_FIELDS}
    data["lead"] = {f: form.get(f"lead.{f}", "").strip() for f in LEAD_FIELDS}
    data["lines"] = _rows(form, "line", LINE_FIELDS)
    data["caps"] = _rows(form, "cap", CAP_FIELDS)
    data["outages"] = _rows(form, "outage", OUTAGE_FIELDS)
    return data


def rows_of_form(form: Mapping[str, str]) -> dict[str, Any]:
    """A submitted form's values in ``rows_of``'s shape, to show a refused plan back as it was typed."""
    rows: dict[str, Any] = {f: form.get(f, "") for f in PLAN_FIELDS}
    rows["lead"] = {f: form.get(f"lead.{f}", "") for f in LEAD_FIELDS}
    for section, fields, key in (
        ("line", LINE_FIELDS, "lines"),
        ("cap", CAP_FIELDS, "caps"),
        ("outage", OUTAGE_FIELDS, "outages"),
    ):
        listed = []
        for index in range(MAX_ROWS):
            if f"{section}.{index}.{fields[0]}" not in form:
                break
            row = {f: form.get(f"{section}.{index}.{f}", "") for f in fields}
            if any(v.strip() for v in row.values()):
                listed.append(row)
        listed.append(dict.fromkeys(fields, ""))
        rows[key] = listed
    rows["kinds"] = [str(k) for k in CapKind]
    return rows

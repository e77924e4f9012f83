"""Allocation runs stored their trigger as English text; the migration reads it once into a kind and
its values (keeping the text it cannot read), and the downgrade words it back, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import Engine, text

from integration.test_migrations import _migrate, empty_engine  # noqa: F401 (the fixture)

BEFORE = "5e1d0c7a9b21"  # the last revision whose runs stored text
OLD = [
    "order CL-2026-0001 locked",
    "order CL-2026-0002 cancelled",
    "order CL-2026-0003 took inventory car LXMSU7A10T0000001",
    "order CL-2026-0003: configuration changed after lock",
    "plan v1: first plan",
    "plan v2: 加一个班次: extra shift",
    "plan v3: Supplier ningde-cells is short of 101 kWh battery pack from 2027-01-11",
    "plan v4: Supplier ningde-cells is back to full supply of 101 kWh battery pack from 2027-02-01",
    "plan v5: supplier coatings-east short of paint-lava-orange from 2026-12-14",
    "plan v6: Supplier x-parts is short of a part nobody lists from 2027-01-11",
    "somebody typed this",
]
NEW = [
    ("order_locked", {"number": "CL-2026-0001"}),
    ("order_cancelled", {"number": "CL-2026-0002"}),
    ("inventory_car_taken", {"number": "CL-2026-0003", "vin": "LXMSU7A10T0000001"}),
    ("order_reconfigured", {"number": "CL-2026-0003"}),
    ("plan_saved", {"version": 1, "reason": "first plan"}),
    ("plan_saved", {"version": 2, "reason": "加一个班次: extra shift"}),
    (
        "supply_short",
        {"version": 3, "supplier": "ningde-cells", "part": "battery-101kwh", "week": "2027-01-11"},
    ),
    (
        "supply_restored",
        {"version": 4, "supplier": "ningde-cells", "part": "battery-101kwh", "week": "2027-02-01"},
    ),
    (
        "supply_short",
        {"version": 5, "supplier": "coatings-east", "part": "paint-lava-orange", "week": "2026-12-14"},
    ),
    (
        "plan_saved",
        {"version": 6, "reason": "Supplier x-parts is short of a part nobody lists from 2027-01-11"},
    ),
    ("text", {"text": "somebody typed this"}),
]


def test_old_trigger_text_becomes_a_kind_and_values_and_back(empty_engine: Engine) -> None:  # noqa: F811
    to = _migrate(empty_engine)
    to(BEFORE)
    with empty_engine.begin() as conn:
        for i, trigger in enumerate(OLD, 1):
            conn.execute(
                text(
                    "INSERT INTO production_runs (id, at, trigger, plan_version, orders, moved_earlier,"
                    " moved_later, millis) VALUES (:id, CURRENT_TIMESTAMP, :trigger, 1, 0, 0, 0, 0.5)"
                ),
                {"id": i, "trigger": trigger},
            )
    to("head")
    with empty_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT trigger_kind, trigger_params FROM production_runs ORDER BY id")
        ).all()
        columns = conn.execute(text("SELECT * FROM production_runs")).keys()
    converted = [(kind, params if isinstance(params, dict) else json.loads(params)) for kind, params in rows]
    assert converted == NEW
    assert "trigger" not in columns
    to(BEFORE, down=True)
    with empty_engine.connect() as conn:
        back = conn.execute(text("SELECT trigger FROM production_runs ORDER BY id")).scalars().all()
    # The old text again; the one older supplier form ("supplier X short of <code>") comes back in the
    # later form, naming the part in English.
    assert back == [
        *OLD[:8],
        "plan v5: Supplier coatings-east is short of Lava Orange paint from 2026-12-14",
        *OLD[9:],
    ]

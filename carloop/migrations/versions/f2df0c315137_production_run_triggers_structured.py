"""production runs: the trigger is a kind and its values (trigger_kind, trigger_params), read once out
of the English text runs stored before; text it cannot read is kept as a 'text' run; the text column
is dropped

Revision ID: f2df0c315137
Revises: 5e1d0c7a9b21
Create Date: 2026-12-07 18:50:00.000000
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "f2df0c315137"
down_revision: str | None = "5e1d0c7a9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite")
RUNS = sa.table(
    "production_runs",
    sa.column("id", BIG_ID),
    sa.column("trigger", sa.String(200)),
    sa.column("trigger_kind", sa.String(32)),
    sa.column("trigger_params", sa.JSON()),
)
BATCH = 2000

# The parts of the bill of materials when this migration was written, English name -> code (frozen
# here: the old text named a part in English, the new params keep its code).
PARTS = {
    "101 kWh battery pack": "battery-101kwh",
    "94–96 kWh battery pack": "battery-94kwh",
    "73.6 kWh battery pack": "battery-73kwh",
    "LiDAR unit": "lidar",
    "Lava Orange paint": "paint-lava-orange",
    "21-inch forged wheel set": "wheel-21-forged",
    "Alcantara seat trim": "seat-alcantara",
}
NAMES = {code: name for name, code in PARTS.items()}

# Every form of text production and supply wrote, most specific first.
ORDER_FORMS = [
    (re.compile(r"order (\S+) locked"), "order_locked", ("number",)),
    (re.compile(r"order (\S+) cancelled"), "order_cancelled", ("number",)),
    (re.compile(r"order (\S+) took inventory car (\S+)"), "inventory_car_taken", ("number", "vin")),
    (re.compile(r"order (\S+): configuration changed after lock"), "order_reconfigured", ("number",)),
]
SUPPLY = re.compile(  # da21fe7 on: "Supplier X is short of <part name> from <date>"
    r"Supplier (\S+) is (short of|back to full supply of) (.+) from (\d{4}-\d{2}-\d{2})", re.S
)
SUPPLY_BY_CODE = re.compile(  # before: "supplier X short of <part code> from <date>"
    r"supplier (\S+) (short of|back to full supply of) (\S+) from (\S+)", re.S
)
PLAN = re.compile(r"plan v(\d+): (.*)", re.S)


def parse(text: str) -> tuple[str, dict[str, Any]]:
    """(kind, params) of a run's old trigger text; ('text', {'text': ...}) when it cannot be read."""
    for pattern, kind, names in ORDER_FORMS:
        if m := pattern.fullmatch(text):
            return kind, dict(zip(names, m.groups(), strict=True))
    if m := PLAN.fullmatch(text):
        version, reason = int(m[1]), m[2]
        supply = SUPPLY.fullmatch(reason)
        part = PARTS.get(supply[3]) if supply else None
        if supply is None and (supply := SUPPLY_BY_CODE.fullmatch(reason)) is not None:
            part = supply[3]
        if supply is not None and part is not None:
            kind = "supply_short" if supply[2] == "short of" else "supply_restored"
            return kind, {"supplier": supply[1], "part": part, "week": supply[4], "version": version}
        return "plan_saved", {"reason": reason, "version": version}
    return "text", {"text": text}


def word(kind: str, params: dict[str, Any]) -> str:
    """The old English text of a run (the downgrade)."""
    p = {k: str(v) for k, v in params.items()}
    number = p.get("number", "?")
    match kind:
        case "order_locked":
            text = f"order {number} locked"
        case "order_cancelled":
            text = f"order {number} cancelled"
        case "inventory_car_taken":
            text = f"order {number} took inventory car {p.get('vin', '?')}"
        case "order_reconfigured":
            text = f"order {number}: configuration changed after lock"
        case "plan_saved":
            text = f"plan v{p.get('version', '?')}: {p.get('reason', '')}"
        case "supply_short" | "supply_restored":
            what = "short of" if kind == "supply_short" else "back to full supply of"
            part = NAMES.get(p.get("part", ""), p.get("part", "?"))
            text = (
                f"plan v{p.get('version', '?')}: Supplier {p.get('supplier', '?')} is {what} {part}"
                f" from {p.get('week', '?')}"
            )
        case _:
            text = p.get("text", "")
    return text[:200]


def _convert(columns: list[str], write: Any) -> None:
    """Rewrite every run in batches of ``BATCH`` rows (by id), ``write(row)`` giving the new values."""
    conn = op.get_bind()
    last = 0
    while True:
        query = sa.select(RUNS.c.id, *(RUNS.c[c] for c in columns)).where(RUNS.c.id > last)
        rows = conn.execute(query.order_by(RUNS.c.id).limit(BATCH)).all()
        if not rows:
            return
        conn.execute(
            RUNS.update().where(RUNS.c.id == sa.bindparam("run_id")),
            [{"run_id": row.id, **write(row)} for row in rows],
        )
        last = rows[-1].id


def _parsed(row: Any) -> dict[str, Any]:
    kind, params = parse(row.trigger)
    return {"trigger_kind": kind, "trigger_params": params}


def _worded(row: Any) -> dict[str, Any]:
    return {"trigger": word(row.trigger_kind, dict(row.trigger_params or {}))}


def upgrade() -> None:
    op.add_column(
        "production_runs",
        sa.Column("trigger_kind", sa.String(length=32), server_default="text", nullable=False),
    )
    op.add_column(
        "production_runs", sa.Column("trigger_params", sa.JSON(), server_default="{}", nullable=False)
    )
    _convert(["trigger"], _parsed)
    # a plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of the table would drop the table
    # production_promise_changes and supply_confirmations point at, which SQLite's foreign keys refuse
    op.drop_column("production_runs", "trigger")


def downgrade() -> None:
    op.add_column(
        "production_runs", sa.Column("trigger", sa.String(length=200), server_default="", nullable=False)
    )
    _convert(["trigger_kind", "trigger_params"], _worded)
    op.drop_column("production_runs", "trigger_params")
    op.drop_column("production_runs", "trigger_kind")

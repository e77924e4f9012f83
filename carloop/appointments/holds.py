"""The one hold algorithm: an appointment takes one free unit of each resource group it needs at every
step it covers, by inserting ``appointment_hold`` rows under their unique key (store, resource unit,
step start). The key decides every race: an insert that finds the key taken inserts nothing, and the
unit is given back and the next one tried. Both the booking lane (``fast.write_batch``, many
appointments per transaction) and ``service.book`` / ``reschedule`` (one) hold through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, delete
from sqlalchemy.dialects import postgresql, sqlite

from carloop.appointments import rules
from carloop.appointments.models import AppointmentHold

_HOLD = cast(Table, AppointmentHold.__table__)
_NEW_HOLD = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(_HOLD)
    .on_conflict_do_nothing(index_elements=["store_id", "resource", "starts_at"])
    .returning(_HOLD.c.id)
    for dialect in (postgresql, sqlite)
}


def _insert_hold(conn: Connection) -> Any:
    return _NEW_HOLD[conn.dialect.name]


def hold_needs(
    conn: Connection,
    store_id: int,
    appointment_id: int,
    needs: Sequence[tuple[rules.ResourceGroup, list[datetime]]],
) -> rules.ResourceGroup | None:
    """Hold one unit of every needed group at each of its steps; the first group with no free unit
    (the caller rolls back what was held), or None when everything is held."""
    add_hold = _insert_hold(conn)
    for group, times in needs:
        if not _hold_group(conn, add_hold, store_id, appointment_id, group, times):
            return group
    return None


def _hold_group(
    conn: Connection,
    add_hold: Any,
    store_id: int,
    appointment_id: int,
    group: rules.ResourceGroup,
    times: list[datetime],
) -> bool:
    """Hold one unit of ``group`` at every step; False if every unit is taken at some step."""
    for n in range(1, group.count + 1):
        unit = group.unit(n)
        landed = 0
        for t in times:
            result = conn.execute(
                add_hold,
                {"appointment_id": appointment_id, "store_id": store_id, "resource": unit, "starts_at": t},
            )
            if result.first() is None:  # someone holds this unit at this step
                break
            landed += 1
        if landed == len(times):
            return True
        if landed:  # this unit is free at some steps only: give those back, try the next unit
            conn.execute(
                delete(_HOLD).where(_HOLD.c.appointment_id == appointment_id, _HOLD.c.resource == unit)
            )
    return False

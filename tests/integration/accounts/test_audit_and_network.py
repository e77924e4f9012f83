"""The audit log records who did what; the minimal store network lists and finds outlets."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.errors import Conflict, NotFound
from carloop.network import service as network
from carloop.network.models import Store
from carloop.network.schemas import StoreKind

from .conftest import make_store


def test_record_keeps_actor_role_store_and_detail(session: Session) -> None:
    principal = Principal(role=Role.STORE_STAFF, staff_id=7, store_id=3)
    entry = audit.record(
        session=session,
        principal=principal,
        action="order.handed_over",
        target_type="order",
        target_id="CL-100",
        detail={"vin": "LSV123"},
        ip="10.0.0.1",
    )
    assert (entry.actor, entry.role, entry.store_id) == ("staff:7", "store_staff", 3)
    assert entry.at is not None
    assert entry.at.tzinfo is not None
    assert audit.list_entries(session=session, target_type="order", target_id="CL-100")[0].detail == {
        "vin": "LSV123"
    }


def test_system_actions_are_recorded_as_the_system(session: Session) -> None:
    entry = audit.record(
        session=session, principal=None, action="demo.seeded", target_type="demo", target_id=1
    )
    assert (entry.actor, entry.role, entry.store_id, entry.target_id) == ("system", "system", None, "1")


def test_entries_list_newest_first_filtered_and_paged(session: Session) -> None:
    for n in range(5):
        audit.record(
            session=session,
            principal=Principal(role=Role.ADMIN, staff_id=n % 2),
            action="staff.updated",
            target_type="staff",
            target_id=n,
        )
    everything = audit.list_entries(session=session)
    assert [e.target_id for e in everything] == ["4", "3", "2", "1", "0"]
    assert [e.target_id for e in audit.list_entries(session=session, actor="staff:1")] == ["3", "1"]
    page = audit.list_entries(session=session, before_id=everything[1].id, limit=2)
    assert [e.target_id for e in page] == ["2", "1"]


def test_stores_are_created_found_and_listed(session: Session, store: Store) -> None:
    second = make_store(session, "SH-ST-01")
    assert network.get_store(session=session, store_id=store.id) is store
    assert network.find_store(session=session, code="SH-ST-01") is second
    assert [s.code for s in network.list_stores(session=session)] == ["BJ-DC-01", "SH-ST-01"]
    assert network.list_stores(session=session, kind=StoreKind.CAR_CORNER) == []
    assert store.kind is StoreKind.DELIVERY_CENTRE


def test_store_codes_are_unique_and_missing_stores_are_not_found(session: Session, store: Store) -> None:
    with pytest.raises(Conflict):
        make_store(session, "BJ-DC-01")
    with pytest.raises(NotFound):
        network.get_store(session=session, store_id=store.id + 100)

"""Builders for accounts tests: a code sender that remembers, stores, and staff accounts."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from carloop.accounts import service
from carloop.accounts.models import Staff
from carloop.accounts.schemas import Principal, Role
from carloop.accounts.senders import MemorySender
from carloop.network import service as network
from carloop.network.models import Store
from carloop.network.schemas import StoreKind

PHONE = "+8613800138000"
PASSWORD = "correct-horse-battery"


@pytest.fixture
def sender() -> MemorySender:
    """A code sender that keeps what it sends."""
    return MemorySender()


@pytest.fixture
def store(session: Session) -> Store:
    """The Beijing delivery centre."""
    return make_store(session, "BJ-DC-01")


def make_store(session: Session, code: str) -> Store:
    """A store with this code."""
    return network.create_store(
        session=session,
        code=code,
        kind=StoreKind.DELIVERY_CENTRE,
        name_en=f"Store {code}",
        name_zh=f"门店 {code}",
        city="Beijing",
        province="Beijing",
    )


def make_staff(
    session: Session, username: str, role: Role = Role.HQ_OPS, store_id: int | None = None
) -> Staff:
    """A staff account created by the system, with the shared test password."""
    return service.create_staff(
        session=session,
        actor=None,
        username=username,
        display_name=username.title(),
        password=PASSWORD,
        role=role,
        store_id=store_id,
    )


def as_principal(staff: Staff) -> Principal:
    """The principal a staff account acts as."""
    return Principal(
        role=staff.role, staff_id=staff.id, store_id=staff.store_id, display_name=staff.display_name
    )

"""Shapes of accounts: roles and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a signed-in person may do."""

    CUSTOMER = "customer"  # a buyer or owner; sees only their own things
    STORE_STAFF = "store_staff"  # works at one store; acts only within it
    HQ_OPS = "hq_ops"  # headquarters operations: catalog, policy, all orders read-only or as allowed
    ADMIN = "admin"  # manages staff accounts and roles


STAFF_ROLES = frozenset({Role.STORE_STAFF, Role.HQ_OPS, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as, resolved from its session token."""

    role: Role
    customer_id: int | None = None
    staff_id: int | None = None
    store_id: int | None = None
    display_name: str = ""
    session_id: int | None = None

    @property
    def is_staff(self) -> bool:
        """Whether this is a staff member of any role."""
        return self.role in STAFF_ROLES

    @property
    def actor(self) -> str:
        """A short label for event and audit rows: ``customer:12`` or ``staff:3``."""
        return f"customer:{self.customer_id}" if self.customer_id is not None else f"staff:{self.staff_id}"

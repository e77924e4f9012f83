"""Pure console rules: what each staff role sees in the navigation."""

from __future__ import annotations

from dataclasses import dataclass

from carloop.accounts.schemas import Role


@dataclass(frozen=True, slots=True)
class NavItem:
    """One console section: its path, English label (translated in the page) and who may open it."""

    path: str
    label: str
    roles: frozenset[Role]


HQ = frozenset({Role.HQ_OPS, Role.ADMIN})
SECTIONS = (
    NavItem("/console/analytics", "Analytics", HQ),
    NavItem("/staff/orders", "Order search", frozenset({Role.STORE_STAFF, Role.HQ_OPS, Role.ADMIN})),
    NavItem("/staff/stores", "Store network", frozenset({Role.STORE_STAFF, Role.HQ_OPS, Role.ADMIN})),
    NavItem("/staff/centres", "Delivery centres", frozenset({Role.STORE_STAFF, Role.HQ_OPS, Role.ADMIN})),
    NavItem("/staff/inventory", "Inventory cars", HQ),
    NavItem("/staff/shop", "Shop catalogue and stock", HQ),
    NavItem("/console/audit", "Audit log", frozenset({Role.STORE_STAFF, Role.HQ_OPS, Role.ADMIN})),
    NavItem("/console/catalog", "Catalog versions", HQ),
    NavItem("/console/policy", "Deposit policy", HQ),
    NavItem("/console/campaigns", "Launch campaigns", HQ),
    NavItem("/console/staff", "Users and roles", frozenset({Role.ADMIN})),
    NavItem("/staff/reconciliation", "Payment reconciliation", frozenset({Role.HQ_FINANCE, Role.ADMIN})),
)


def navigation(role: Role) -> list[NavItem]:
    """The console sections a role may open, in menu order."""
    return [item for item in SECTIONS if role in item.roles]


def may_open(role: Role, path: str) -> bool:
    """Whether a role may open the console section at ``path``."""
    return any(item.path == path for item in navigation(role))

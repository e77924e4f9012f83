"""Pure console rules: what each staff role sees in the navigation, and deposit policy checks."""

from __future__ import annotations

from dataclasses import dataclass

from carloop.accounts.schemas import Role

MAX_DEPOSIT_FEN = 10_000_000  # ¥100,000: a deposit, not a price
MAX_REFUNDABLE_HOURS = 24 * 30


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
    NavItem("/console/audit", "Audit log", frozenset({Role.STORE_STAFF, Role.HQ_OPS, Role.ADMIN})),
    NavItem("/console/catalog", "Catalog versions", HQ),
    NavItem("/console/policy", "Deposit policy", HQ),
    NavItem("/console/staff", "Users and roles", frozenset({Role.ADMIN})),
)


def navigation(role: Role) -> list[NavItem]:
    """The console sections a role may open, in menu order."""
    return [item for item in SECTIONS if role in item.roles]


def may_open(role: Role, path: str) -> bool:
    """Whether a role may open the console section at ``path``."""
    return any(item.path == path for item in navigation(role))


def deposit_problem(*, amount_fen: int, refundable_hours: int, lock_at_payment: bool) -> str | None:
    """Why deposit terms are unacceptable, or None when they are fine."""
    if not 0 < amount_fen <= MAX_DEPOSIT_FEN:
        return "A deposit is more than ¥0 and at most ¥100,000."
    if not 0 <= refundable_hours <= MAX_REFUNDABLE_HOURS:
        return f"The refundable window is 0 to {MAX_REFUNDABLE_HOURS} hours."
    if lock_at_payment and refundable_hours:
        return "An order that locks at payment cannot have a refundable window."
    return None

"""Console rules: navigation by role and deposit policy checks."""

from __future__ import annotations

import pytest

from carloop.accounts.schemas import Role
from carloop.console import rules


def test_each_role_sees_only_the_sections_it_may_open() -> None:
    admin = [i.path for i in rules.navigation(Role.ADMIN)]
    ops = [i.path for i in rules.navigation(Role.HQ_OPS)]
    store = [i.path for i in rules.navigation(Role.STORE_STAFF)]
    assert "/console/staff" in admin and "/console/staff" not in ops
    assert {"/console/analytics", "/console/catalog", "/console/policy"} <= set(ops)
    assert store == ["/staff/orders", "/console/audit"]
    assert rules.navigation(Role.CUSTOMER) == []
    assert rules.may_open(Role.HQ_OPS, "/console/policy") and not rules.may_open(
        Role.STORE_STAFF, "/console/policy"
    )


@pytest.mark.parametrize(
    ("amount", "hours", "lock_at_payment", "ok"),
    [
        (500_000, 168, False, True),
        (500_000, 0, True, True),
        (0, 168, False, False),
        (-1, 0, False, False),
        (10_000_001, 0, False, False),
        (500_000, -1, False, False),
        (500_000, 721, False, False),
        (500_000, 24, True, False),
    ],
)
def test_deposit_terms_are_checked(amount: int, hours: int, lock_at_payment: bool, ok: bool) -> None:
    problem = rules.deposit_problem(
        amount_fen=amount, refundable_hours=hours, lock_at_payment=lock_at_payment
    )
    assert (problem is None) is ok

"""Console rules: navigation by role."""

from __future__ import annotations

from carloop.accounts.schemas import Role
from carloop.console import rules


def test_each_role_sees_only_the_sections_it_may_open() -> None:
    admin = [i.path for i in rules.navigation(Role.ADMIN)]
    ops = [i.path for i in rules.navigation(Role.HQ_OPS)]
    store = [i.path for i in rules.navigation(Role.STORE_STAFF)]
    assert "/console/staff" in admin and "/console/staff" not in ops
    assert {"/console/analytics", "/console/catalog", "/console/policy"} <= set(ops)
    assert store == ["/staff/orders", "/staff/stores", "/staff/centres", "/console/audit"]
    assert rules.navigation(Role.CUSTOMER) == []
    assert rules.may_open(Role.HQ_OPS, "/console/policy") and not rules.may_open(
        Role.STORE_STAFF, "/console/policy"
    )

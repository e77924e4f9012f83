"""A deposit policy HQ sets in the console applies to orders reserved after it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.ordering import terms

from .conftest import reserve

HQ = Principal(role=Role.HQ_OPS, staff_id=1, display_name="ops")


def test_a_console_deposit_override_applies_to_new_orders(session: Session, buyer_id: int) -> None:
    before = reserve(session, buyer_id, model="yu7", trim="max")
    terms.set_deposit_policy(session=session, actor=HQ, model="yu7", amount_fen=200_000, refundable_hours=72)
    after = reserve(session, buyer_id, model="yu7", trim="max")
    assert (before.deposit_fen, before.refundable_hours) == (500_000, 168)
    assert (after.deposit_fen, after.refundable_hours) == (200_000, 72)
    assert after.quote["deposit"]["amount_fen"] == 200_000

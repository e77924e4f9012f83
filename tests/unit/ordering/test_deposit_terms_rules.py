"""The limits HQ's deposit terms must respect (``ordering.rules.deposit_problem``)."""

from __future__ import annotations

import pytest

from carloop.ordering import rules


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

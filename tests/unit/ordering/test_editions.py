"""Pure rules of the launch intake: identity numbers, unit grants, per-identity limits, transfers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.errors import PermissionDenied, PolicyViolation
from carloop.ordering import editions as rules
from carloop.ordering.editions import ScalperPolicy, TransferMode


def test_a_well_formed_identity_number_passes_its_checksum() -> None:
    assert rules.valid_id_number("11010519491231002X")
    assert rules.valid_id_number(rules.id_number_with_check("44030419900307123"))


@pytest.mark.parametrize(
    "text",
    ["110105194912310021", "11010519491331002X", "1101051949123100", "ABCDEFGHIJKLMNOPQR", ""],
)
def test_a_malformed_identity_number_is_refused(text: str) -> None:
    assert not rules.valid_id_number(text)


@given(
    st.integers(0, 200),
    st.integers(0, 50),
    st.integers(0, 50),
    st.sets(st.integers(1, 50), max_size=10),
)
def test_units_are_never_more_than_capacity_and_numbers_are_unique(
    requests: int, capacity: int, taken: int, returns: set[int]
) -> None:
    taken = min(taken, capacity)
    returns = {n for n in returns if n <= taken}
    grant = rules.grant_units(requests, capacity=capacity, taken=taken, returns=returns)
    given_numbers = [n for n in grant.numbers if n is not None]
    assert len(given_numbers) == len(set(given_numbers))
    assert all(1 <= n <= capacity for n in given_numbers)
    assert grant.taken <= capacity
    assert len(given_numbers) == min(requests, len(returns) + capacity - taken)
    # Arrival order: once someone waits, everyone after them waits too.
    first_wait = next((i for i, n in enumerate(grant.numbers) if n is None), len(grant.numbers))
    assert all(n is None for n in grant.numbers[first_wait:])


def test_returned_numbers_are_given_first_lowest_first_then_new_ones_in_order() -> None:
    grant = rules.grant_units(4, capacity=10, taken=6, returns=[5, 2])
    assert grant.numbers == [2, 5, 7, 8] and grant.taken == 8 and grant.returns_used == [2, 5]


@given(st.lists(st.sampled_from("abc"), max_size=30), st.integers(1, 3))
def test_no_identity_gets_more_than_the_limit(identities: list[str], limit: int) -> None:
    admitted = rules.admit_by_identity(identities, {"a": 1}, limit)
    for who in "abc":
        held = 1 if who == "a" else 0
        got = sum(1 for i, ok in zip(identities, admitted, strict=True) if ok and i == who)
        assert held + got <= limit
        wanted = sum(1 for i in identities if i == who)
        assert got == min(wanted, max(0, limit - held))


def test_positions_count_gaps_and_repeats() -> None:
    assert rules.position_gaps([3, 1, 2]) == 0
    assert rules.position_gaps([1, 2, 4]) == 1
    assert rules.position_gaps([2, 3]) == 1
    assert rules.position_gaps([1, 1, 2]) == 1
    assert rules.position_gaps([]) == 0


POLICY = ScalperPolicy(max_orders_per_identity=1)


def test_an_order_passes_only_to_listed_family_by_its_owner() -> None:
    rules.check_transfer(POLICY, owner_id=1, requested_by=1, to_customer_id=2, family=[2, 3])
    with pytest.raises(PolicyViolation):
        rules.check_transfer(POLICY, owner_id=1, requested_by=1, to_customer_id=9, family=[2, 3])
    with pytest.raises(PermissionDenied):
        rules.check_transfer(POLICY, owner_id=1, requested_by=2, to_customer_id=2, family=[2])
    with pytest.raises(PolicyViolation):
        rules.check_transfer(
            ScalperPolicy(1, transfer=TransferMode.NONE),
            owner_id=1,
            requested_by=1,
            to_customer_id=2,
            family=[2],
        )


def test_policies_are_data_with_a_default() -> None:
    table = rules.parse_policies({"*": {"max_orders_per_identity": 2}, "x": {"max_orders_per_identity": 1}})
    assert rules.policy_for(table, "x").max_orders_per_identity == 1
    assert rules.policy_for(table, "other").max_orders_per_identity == 2
    assert not rules.policy_for(table, "other").buyer_changeable

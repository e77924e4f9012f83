"""Owners hashed into partitions, partitions dealt to bridges: deterministic, and a join moves little."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from carloop.ecosystem.shares import assign, owners_in, partition_of, share_of

names = st.lists(st.text("abcdefgh0123456789:", min_size=1, max_size=12), min_size=1, max_size=8, unique=True)


@given(names)
def test_every_partition_has_exactly_one_member_whatever_the_order(members: list[str]) -> None:
    shares = [share_of(m, members, 64) for m in members]
    assert sum(len(s) for s in shares) == 64
    assert frozenset().union(*shares) == frozenset(range(64))
    assert [share_of(m, list(reversed(members)), 64) for m in members] == shares


@given(names, st.text("xyz", min_size=1, max_size=6))
def test_a_joining_member_takes_partitions_only_for_itself(members: list[str], newcomer: str) -> None:
    if newcomer in members:
        return
    for p in range(64):
        before, after = assign(p, members), assign(p, [*members, newcomer])
        assert after in (before, newcomer)  # nothing moves between the members already there


def test_two_bridges_split_the_partitions_roughly_evenly() -> None:
    a = share_of("host:1:aa", ["host:1:aa", "host:2:bb"])
    assert 256 * 0.35 < len(a) < 256 * 0.65


def test_an_owner_always_lands_in_the_same_partition() -> None:
    assert partition_of(42) == partition_of(42)
    assert all(0 <= partition_of(o, 16) < 16 for o in range(1000))
    held = frozenset({partition_of(7, 16)})
    assert 7 in owners_in(range(20), held, 16)
    assert assign(0, []) is None

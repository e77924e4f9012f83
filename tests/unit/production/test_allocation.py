"""Allocation: greedy in lock order, lock order within a configuration, and stable re-plans."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from carloop.production.allocation import Allocation, allocate, fill_week


def brute_force(uses: np.ndarray, capacity: np.ndarray, sig: np.ndarray, rank: np.ndarray) -> dict[int, int]:
    """The definition: each order in lock order takes the first week where all its constraints have room."""
    room = capacity.copy()
    horizon = capacity.shape[1]
    weeks = {}
    for i in np.argsort(rank, kind="stable"):
        rows = uses[:, sig[i]]
        week = next((w for w in range(horizon) if (room[rows, w] > 0).all()), horizon)
        if week < horizon:
            room[rows, week] -= 1
        weeks[int(i)] = week
    return weeks


@st.composite
def books(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_con = draw(st.integers(1, 4))
    n_sig = draw(st.integers(1, 5))
    horizon = draw(st.integers(1, 6))
    n = draw(st.integers(0, 40))
    uses = draw(hnp.arrays(bool, (n_con, n_sig)))
    capacity = draw(hnp.arrays(np.int64, (n_con, horizon), elements=st.integers(0, 5)))
    sig = np.asarray(draw(st.lists(st.integers(0, n_sig - 1), min_size=n, max_size=n)), dtype=np.int64)
    rank = np.asarray(draw(st.permutations(list(range(n)))), dtype=np.int64)
    return uses, capacity, sig, rank


def _fifo(alloc: Allocation) -> bool:
    """Within each signature, weeks never decrease in lock order."""
    for s in range(alloc.uses.shape[1]):
        lo, hi = alloc.bounds[s], alloc.bounds[s + 1]
        order = np.argsort(alloc.rank[lo:hi])
        weeks = alloc.week[lo:hi][order][alloc.alive[lo:hi][order]]
        if (np.diff(weeks) < 0).any():
            return False
    return True


def _within_capacity(alloc: Allocation) -> bool:
    return bool((alloc.load[:, : alloc.horizon] <= alloc.capacity).all())


@settings(max_examples=200, deadline=None)
@given(books())
def test_the_allocation_is_the_greedy_one_in_lock_order(book: tuple[np.ndarray, ...]) -> None:
    uses, capacity, sig, rank = book
    alloc = allocate(uses, capacity, np.arange(len(sig)), sig, rank)
    assert alloc.weeks() == brute_force(uses, capacity, sig, rank)
    assert _within_capacity(alloc) and _fifo(alloc)


@settings(max_examples=100, deadline=None)
@given(books())
def test_the_allocation_is_deterministic(book: tuple[np.ndarray, ...]) -> None:
    uses, capacity, sig, rank = book
    first = allocate(uses, capacity, np.arange(len(sig)), sig, rank).weeks()
    assert allocate(uses, capacity, np.arange(len(sig)), sig, rank).weeks() == first


@settings(max_examples=150, deadline=None)
@given(books(), st.data())
def test_a_cancellation_never_moves_anyone_later(book: tuple[np.ndarray, ...], data: st.DataObject) -> None:
    uses, capacity, sig, rank = book
    alloc = allocate(uses, capacity, np.arange(len(sig)), sig, rank)
    if not len(sig):
        return
    before = alloc.weeks()
    victim = data.draw(st.integers(0, len(sig) - 1))
    moves = alloc.cancel(victim)
    after = alloc.weeks()
    assert victim not in after
    assert all(after[o] <= before[o] for o in after)
    assert moves.later() == 0 and len(moves) == sum(after[o] != before[o] for o in after)
    assert _within_capacity(alloc) and _fifo(alloc)


@settings(max_examples=150, deadline=None)
@given(books(), st.data())
def test_a_capacity_cut_keeps_every_week_within_capacity_and_moves_only_users_of_the_cut(
    book: tuple[np.ndarray, ...], data: st.DataObject
) -> None:
    uses, capacity, sig, rank = book
    alloc = allocate(uses, capacity, np.arange(len(sig)), sig, rank)
    before = alloc.weeks()
    row = data.draw(st.integers(0, capacity.shape[0] - 1))
    week = data.draw(st.integers(0, capacity.shape[1] - 1))
    cut = capacity.copy()
    cut[row, week] = data.draw(st.integers(0, int(capacity[row, week])))
    moves = alloc.recapacitate(cut)
    after = alloc.weeks()
    assert _within_capacity(alloc) and _fifo(alloc)
    for order, to_week in zip(moves.order.tolist(), moves.to_week.tolist(), strict=True):
        if to_week > before[order]:
            assert uses[row, sig[order]], "only orders that use the cut constraint move later"
    assert set(after) == set(before)


@settings(max_examples=100, deadline=None)
@given(books(), st.data())
def test_more_capacity_only_moves_orders_earlier(book: tuple[np.ndarray, ...], data: st.DataObject) -> None:
    uses, capacity, sig, rank = book
    alloc = allocate(uses, capacity, np.arange(len(sig)), sig, rank)
    before = alloc.weeks()
    more = capacity.copy()
    more[
        data.draw(st.integers(0, capacity.shape[0] - 1)), data.draw(st.integers(0, capacity.shape[1] - 1))
    ] += 3
    moves = alloc.recapacitate(more)
    after = alloc.weeks()
    assert moves.later() == 0 and all(after[o] <= before[o] for o in after)
    assert _within_capacity(alloc) and _fifo(alloc)


def test_orders_of_one_configuration_are_built_in_lock_order() -> None:
    uses = np.array([[True, True], [False, True]])  # constraint 0: the line; 1: a cap on signature 1
    capacity = np.array([[2, 2, 2], [1, 1, 1]])
    sig = np.array([1, 1, 1, 0])
    rank = np.array([0, 1, 2, 3])
    alloc = allocate(uses, capacity, np.arange(4), sig, rank)
    assert alloc.weeks() == {0: 0, 1: 1, 2: 2, 3: 0}


def test_a_new_order_goes_to_the_back_of_its_queue() -> None:
    uses = np.array([[True]])
    alloc = allocate(uses, np.array([[1, 1, 1]]), np.arange(2), np.array([0, 0]), np.array([0, 1]))
    assert alloc.quote_week(0) == 2
    assert alloc.place(9, 0, 5) == 2
    assert alloc.quote_week(0) == 3  # beyond the horizon


def test_a_week_skips_an_order_whose_cap_is_full_and_takes_the_next() -> None:
    uses = np.array([[1, 1], [0, 1]])  # the line, and a cap only signature 1 uses
    keep = fill_week(uses, np.array([1, 1, 0, 1, 0]), np.array([3, 1]))
    assert keep.tolist() == [True, False, True, False, True]

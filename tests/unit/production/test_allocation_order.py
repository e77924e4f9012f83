"""Stored weeks that break lock order inside a queue (a lock stamped late, e.g. an auto-lock at the
end of its window) must not hang or corrupt a re-plan: the allocation restores lock order."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carloop.production.allocation import Allocation


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail (instead of hanging the run) when a re-plan loops: an alarm, not a wall-clock threshold."""

    def stop(signum: int, frame: object) -> None:
        raise TimeoutError("the re-plan did not finish")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _fifo(alloc: Allocation) -> bool:
    for s in range(alloc.uses.shape[1]):
        lo, hi = int(alloc.bounds[s]), int(alloc.bounds[s + 1])
        weeks = alloc.week[lo:hi][alloc.alive[lo:hi]]
        if (np.diff(weeks) < 0).any():
            return False
    return True


def test_a_capacity_increase_over_weeks_out_of_lock_order_terminates(deadline: None) -> None:
    uses = np.array([[False, True], [True, False]])
    stored = np.array([[0, 0, 2], [1, 1, 0]])
    sig, weeks = np.array([1, 0, 0, 0, 1]), np.array([0, 3, 1, 0, 0])
    alloc = Allocation(uses, stored, np.arange(5), sig, np.arange(5), weeks)
    alloc.capacity = np.maximum(alloc.capacity, alloc.load[:, :3])  # as a re-plan does
    alloc.recapacitate(np.array([[1, 0, 2], [2, 2, 1]]))
    assert _fifo(alloc)
    assert (alloc.room() >= 0).all()


def test_a_late_stamped_lock_ahead_in_rank_is_built_first(deadline: None) -> None:
    uses = np.array([[True]])
    capacity = np.array([[1, 1, 1, 1]])
    # rank 0 sits in week 2, rank 1 in week 0: the stored weeks break lock order.
    alloc = Allocation(
        uses, capacity, np.array([10, 11]), np.array([0, 0]), np.array([0, 1]), np.array([2, 0])
    )
    alloc.fill()
    assert _fifo(alloc)
    assert sorted(alloc.weeks().values()) == [0, 1]
    assert alloc.weeks()[10] == 0  # the earlier lock is built first


def test_a_cancellation_with_weeks_out_of_lock_order_terminates(deadline: None) -> None:
    uses = np.array([[True]])
    capacity = np.array([[1, 1, 1, 1, 1]])
    ids = np.array([1, 2, 3, 4])
    alloc = Allocation(uses, capacity, ids, np.zeros(4, dtype=np.int64), np.arange(4), np.array([3, 0, 1, 2]))
    alloc.cancel(2)
    assert _fifo(alloc)
    assert alloc.weeks() == {1: 0, 3: 1, 4: 2}


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda n_sig: st.tuples(
            st.just(n_sig),
            st.lists(st.integers(0, n_sig - 1), min_size=1, max_size=12),
            st.lists(st.integers(0, 5), min_size=12, max_size=12),
            st.lists(st.integers(1, 3), min_size=5, max_size=5),
        )
    )
)
def test_any_stored_weeks_give_a_fifo_allocation_within_the_same_load(
    case: tuple[int, list[int], list[int], list[int]],
) -> None:
    n_sig, sigs, weeks, cap = case
    n = len(sigs)
    uses = np.ones((1, n_sig), dtype=bool)
    capacity = np.array([cap])
    alloc = Allocation(uses, capacity, np.arange(n), np.array(sigs), np.arange(n), np.array(weeks[:n]))
    load = alloc.load.copy()
    assert _fifo(alloc)
    assert (alloc.load == load).all()
    alloc.fill()
    assert _fifo(alloc)

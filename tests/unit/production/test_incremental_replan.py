"""The re-plan after a cancellation or a capacity increase fills each reached week in one merge of the
waiting orders that could fit; it must give exactly what filling it one earliest-locked order at a
time gives (the previous implementation, kept here as the reference)."""

from __future__ import annotations

import copy
import heapq

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from carloop.production.allocation import Allocation, Moves, allocate, fill_week

from .test_allocation import _fifo, _within_capacity, books


def _first_waiting(alloc: Allocation, w: int, eligible: np.ndarray) -> np.ndarray:
    starts = np.searchsorted(alloc.key, eligible * alloc._stride + w, side="right")
    ends = alloc.bounds[eligible + 1]
    idx = np.where(starts < ends, starts, -1)
    for j in np.flatnonzero(idx >= 0):
        i = int(idx[j])
        while i < ends[j] and not alloc.alive[i]:
            i += 1
        idx[j] = i if i < ends[j] else -1
    return idx


def reference_compact(alloc: Allocation, weeks: list[int]) -> None:
    """One earliest-locked waiting order that fits at a time (in batches of one signature)."""
    heap = sorted({w for w in weeks if alloc.frozen <= w < alloc.horizon})
    while heap:
        w = heapq.heappop(heap)
        while True:
            room = alloc.capacity[:, w] - alloc.load[:, w]
            eligible = np.flatnonzero(~alloc.uses[room <= 0].any(axis=0))
            if not eligible.size:
                break
            idx = _first_waiting(alloc, w, eligible)
            ok = idx >= 0
            if not ok.any():
                break
            candidates, sigs = idx[ok], eligible[ok]
            order = np.argsort(alloc.rank[candidates])
            i, s = int(candidates[order[0]]), int(sigs[order[0]])
            end = int(alloc.bounds[s + 1])
            limit = int(room[alloc.uses[:, s]].min()) if alloc.uses[:, s].any() else end - i
            if len(order) > 1:
                next_rank = alloc.rank[candidates[order[1]]]
                limit = min(limit, int(np.searchsorted(alloc.rank[i:end], next_rank)))
            span = np.arange(i, i + max(1, min(limit, end - i)))
            span = span[alloc.alive[span]]
            old = np.unique(alloc.week[span])
            counts = np.bincount(alloc.week[span], minlength=alloc.horizon + 1)
            alloc.load -= np.outer(alloc.uses_int[:, s], counts)
            alloc.load[:, w] += alloc.uses_int[:, s] * len(span)
            alloc.week[span] = w
            alloc.key[span] = s * alloc._stride + w
            for week in old.tolist():
                if week < alloc.horizon:
                    heapq.heappush(heap, week)


class Reference(Allocation):
    """The allocation with the reference fill."""

    def _compact(self, weeks: list[int]) -> None:
        reference_compact(self, weeks)


def _twins(book: tuple[np.ndarray, ...], frozen: int) -> tuple[Allocation, Allocation]:
    uses, capacity, sig, rank = book
    fast = allocate(uses, capacity, np.arange(len(sig)), sig, rank)
    fast.frozen = min(frozen, fast.horizon)
    slow = copy.deepcopy(fast)
    slow.__class__ = Reference
    return fast, slow


def _same(fast: Allocation, slow: Allocation) -> None:
    assert fast.weeks() == slow.weeks()
    assert (fast.load == slow.load).all() and (fast.load == fast._load()).all()
    assert _fifo(fast) and _within_capacity(fast)


@settings(max_examples=150, deadline=None)
@given(books(), st.data())
def test_a_capacity_increase_fills_weeks_exactly_as_one_order_at_a_time(
    book: tuple[np.ndarray, ...], data: st.DataObject
) -> None:
    fast, slow = _twins(book, data.draw(st.integers(0, 2)))
    more = fast.capacity.copy()
    for _ in range(data.draw(st.integers(1, 3))):
        row = data.draw(st.integers(0, more.shape[0] - 1))
        week = data.draw(st.integers(0, more.shape[1] - 1))
        more[row, week] += data.draw(st.integers(1, 4))
    fast_moves, slow_moves = fast.recapacitate(more), slow.recapacitate(more.copy())
    _same(fast, slow)
    assert fast_moves.later() == 0 and len(fast_moves) == len(slow_moves)


@settings(max_examples=150, deadline=None)
@given(books(), st.data())
def test_a_cancellation_fills_its_slot_exactly_as_one_order_at_a_time(
    book: tuple[np.ndarray, ...], data: st.DataObject
) -> None:
    fast, slow = _twins(book, data.draw(st.integers(0, 2)))
    if not len(fast.ids):
        return
    for victim in data.draw(st.lists(st.sampled_from(fast.ids.tolist()), min_size=1, max_size=3)):
        fast.cancel(victim)
        slow.cancel(victim)
        _same(fast, slow)


@settings(max_examples=100, deadline=None)
@given(books(), st.data())
def test_a_cut_then_a_restore_fills_weeks_exactly_as_one_order_at_a_time(
    book: tuple[np.ndarray, ...], data: st.DataObject
) -> None:
    fast, slow = _twins(book, 0)
    cut = fast.capacity.copy()
    row = data.draw(st.integers(0, cut.shape[0] - 1))
    cut[row] = np.maximum(cut[row] - data.draw(st.integers(1, 3)), 0)
    fast.recapacitate(cut)
    slow.recapacitate(cut.copy())
    _same(fast, slow)
    restored = np.asarray(book[1]).copy()
    fast.recapacitate(restored)
    slow.recapacitate(restored.copy())
    fast.fill()
    slow.fill()
    _same(fast, slow)


@settings(max_examples=300, deadline=None)
@given(books(), st.data())
def test_a_week_takes_exactly_the_orders_that_fit_in_lock_order(
    book: tuple[np.ndarray, ...], data: st.DataObject
) -> None:
    uses, capacity, sig, _ = book
    room = capacity[:, data.draw(st.integers(0, capacity.shape[1] - 1))]
    uses_int = uses.astype(np.int64)
    left, expected = room.copy(), []
    for s in sig.tolist():  # one order at a time: taken when every constraint it uses has room
        fits = bool((left[uses[:, s]] > 0).all())
        expected.append(fits)
        if fits:
            left -= uses_int[:, s]
    assert fill_week(uses_int, sig, room).tolist() == expected


def reference_cascade(alloc: Allocation, affected: np.ndarray) -> None:
    """Every week from the first overfull one: all its orders of the cut signatures, one by one."""
    overfull = (alloc.load[:, : alloc.horizon] > alloc.capacity).any(axis=0)
    w = int(np.argmax(overfull)) if overfull.any() else alloc.horizon
    n_sig = alloc.uses.shape[1]
    while w < alloc.horizon:
        members = np.flatnonzero((alloc.week == w) & alloc.alive)
        mine = affected[alloc.sig[members]]
        pool, others = members[mine], members[~mine]
        pool = pool[np.argsort(alloc.rank[pool], kind="stable")]
        room = alloc.capacity[:, w] - alloc.uses_int @ np.bincount(alloc.sig[others], minlength=n_sig)
        bumped = pool[~fill_week(alloc.uses_int, alloc.sig[pool], room)]
        for i in bumped.tolist():
            s = alloc.sig[i]
            alloc.load[:, w] -= alloc.uses_int[:, s]
            alloc.load[:, w + 1] += alloc.uses_int[:, s]
        alloc.week[bumped] = w + 1
        alloc.key[bumped] += 1
        later = (alloc.load[:, w + 1 : alloc.horizon] > alloc.capacity[:, w + 1 :]).any(axis=0)
        if not later.any():
            break
        w = w + 1 + int(np.argmax(later))


class WholeBook(Allocation):
    """The allocation whose cut reads every order of every week it reaches (the fill is the product's:
    the one-at-a-time reference fill above does not know cancelled rows and can loop on them)."""

    def _cascade(self, affected: np.ndarray) -> Moves:
        before = self.week.copy()
        reference_cascade(self, affected)
        return self._moves_since(before)


def _moved(moves: Moves) -> list[tuple[int, int, int]]:
    return sorted(zip(moves.order.tolist(), moves.from_week.tolist(), moves.to_week.tolist(), strict=True))


@settings(max_examples=200, deadline=None)
@given(books(), st.data())
def test_any_cuts_and_increases_re_plan_exactly_as_the_whole_book(
    book: tuple[np.ndarray, ...], data: st.DataObject
) -> None:
    """The cut reads only the cut signatures' runs from the first overfull week on (in slices); the
    same orders move to the same weeks as when every order of every reached week is dealt again,
    with cancelled rows left in the book, for any sequence of cuts and increases."""
    fast, slow = _twins(book, data.draw(st.integers(0, 2)))
    slow.__class__ = WholeBook
    if len(fast.ids):
        dead = data.draw(st.lists(st.integers(0, len(fast.ids) - 1), max_size=4))
        for alloc in (fast, slow):
            alloc.alive[dead] = False
            alloc.load = alloc._load()
    for _ in range(data.draw(st.integers(1, 4))):
        change = fast.capacity.copy()
        for _ in range(data.draw(st.integers(1, 3))):
            row = data.draw(st.integers(0, change.shape[0] - 1))
            week = data.draw(st.integers(0, change.shape[1] - 1))
            change[row, week] = max(change[row, week] + data.draw(st.integers(-4, 3)), 0)
        fast_moves, slow_moves = fast.recapacitate(change), slow.recapacitate(change.copy())
        assert _moved(fast_moves) == _moved(slow_moves)
        _same(fast, slow)

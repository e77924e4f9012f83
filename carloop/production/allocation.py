"""Build-week allocation: locked orders into weekly slots under counting constraints, in lock order.

Every constraint is a weekly count: a model's line capacity, a per-trim or per-option cap, the supply
of a shared part. An order's *signature* is the set of constraints one of its cars uses. Orders with
one signature are interchangeable for the plan, so each signature is a FIFO queue in lock order and
the allocation is held as arrays sorted by (signature, lock rank) whose weeks never decrease inside a
signature: lock order within a configuration holds by construction.

The first allocation is the greedy one: week by week, orders in lock order take a slot when every
constraint they use still has room, and are skipped (to a later week) otherwise. It is computed per
signature, not per order: a binary search over lock rank finds where the next constraint fills up.
Re-planning then moves as little as possible: a cancellation or a capacity increase only pulls the
earliest-locked waiting order that fits into the freed slot (a chain of moves, each one earlier), and
only a capacity cut pushes orders later: the latest-locked orders of an overfull week move on.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Moves:
    """Orders moved by a re-plan: caller ids and their weeks before and after (``horizon``: beyond it)."""

    order: IntArray
    from_week: IntArray
    to_week: IntArray

    def __len__(self) -> int:
        return len(self.order)

    def later(self) -> int:
        """How many moved later."""
        return int((self.to_week > self.from_week).sum())

    def earlier(self) -> int:
        """How many moved earlier."""
        return int((self.to_week < self.from_week).sum())


class Allocation:
    """Orders, their signature, lock rank and week, with each constraint's weekly load."""

    def __init__(
        self,
        uses: BoolArray,
        capacity: IntArray,
        ids: IntArray,
        sig: IntArray,
        rank: IntArray,
        week: IntArray,
        *,
        frozen: int = 0,
    ) -> None:
        self.uses = np.asarray(uses, dtype=bool)  # (K constraints, S signatures)
        self.uses_int = self.uses.astype(np.int64)
        self.capacity = np.asarray(capacity, dtype=np.int64)  # (K, W)
        self.horizon = int(self.capacity.shape[1])
        self.frozen = frozen  # weeks before this one are on the line: nothing is pulled into them
        n_sig = self.uses.shape[1]
        order = np.lexsort((np.asarray(rank), np.asarray(sig)))
        self.ids = np.asarray(ids, dtype=np.int64)[order]
        self.sig = np.asarray(sig, dtype=np.int64)[order]
        self.rank = np.asarray(rank, dtype=np.int64)[order]
        week = np.minimum(np.asarray(week, dtype=np.int64)[order], self.horizon)
        # Stored weeks may break lock order inside a queue (a lock stamped after others were planned,
        # e.g. an auto-lock at the end of its window). Every method here relies on weeks that never
        # decrease inside a signature, so the queue's weeks are dealt out again in lock order: the
        # same cars per signature and week (the same load), the earlier lock in the earlier week.
        self.week = week[np.lexsort((week, self.sig))]
        self.alive = np.ones(len(self.ids), dtype=bool)
        self.bounds = np.searchsorted(self.sig, np.arange(n_sig + 1)).astype(np.int64)
        self._stride = self.horizon + 2
        self.key = self.sig * self._stride + self.week
        self.load = self._load()

    # -- reading --------------------------------------------------------------------------
    def _load(self) -> IntArray:
        n_sig = self.uses.shape[1]
        cells = self.sig[self.alive] * (self.horizon + 1) + self.week[self.alive]
        counts = np.bincount(cells, minlength=n_sig * (self.horizon + 1)).reshape(n_sig, self.horizon + 1)
        load: IntArray = self.uses_int @ counts
        return load

    def weeks(self) -> dict[int, int]:
        """Caller id -> week (``horizon`` means beyond it) of every order still allocated."""
        alive = self.alive
        return dict(zip(self.ids[alive].tolist(), self.week[alive].tolist(), strict=True))

    def room(self) -> IntArray:
        """Free units per constraint and week (negative where a cut left a week overfull)."""
        room: IntArray = self.capacity - self.load[:, : self.horizon]
        return room

    def quote_week(self, signature: int) -> int:
        """The week a new order with this signature would get now (``horizon``: beyond it)."""
        return earliest_week(self.uses[:, signature], self.room(), self.last_week(signature), self.frozen)

    def last_week(self, signature: int) -> int:
        """The week of the last order in a signature's queue (0 when the queue is empty)."""
        lo, hi = int(self.bounds[signature]), int(self.bounds[signature + 1])
        alive = np.flatnonzero(self.alive[lo:hi])
        return int(self.week[lo + alive[-1]]) if alive.size else 0

    # -- re-planning ----------------------------------------------------------------------
    def extend(self, ids: IntArray, sigs: IntArray, ranks: IntArray) -> IntArray:
        """Add newly locked orders (in lock order) at the back of their queues; returns their weeks."""
        ids, sigs, ranks = (np.asarray(a, dtype=np.int64) for a in (ids, sigs, ranks))
        room = self.room()
        n_sig = self.uses.shape[1]
        last = np.zeros(n_sig, dtype=np.int64)
        np.maximum.at(last, self.sig[self.alive], self.week[self.alive])
        first_fit = np.full(n_sig, self.frozen, dtype=np.int64)  # only grows: room only shrinks here
        weeks = np.empty(len(ids), dtype=np.int64)
        used = [np.flatnonzero(self.uses[:, s]) for s in range(n_sig)]
        for j, s in enumerate(sigs.tolist()):
            rows = used[s]
            w = max(int(first_fit[s]), int(last[s]), self.frozen)
            while w < self.horizon and (room[rows, w] <= 0).any():
                w += 1
            if w < self.horizon:
                room[rows, w] -= 1
            first_fit[s] = last[s] = weeks[j] = w
        keep = self.alive
        merged = Allocation(
            self.uses,
            self.capacity,
            np.concatenate([self.ids[keep], ids]),
            np.concatenate([self.sig[keep], sigs]),
            np.concatenate([self.rank[keep], ranks]),
            np.concatenate([self.week[keep], weeks]),
            frozen=self.frozen,
        )
        self.__dict__.update(merged.__dict__)
        return weeks

    def place(self, order_id: int, signature: int, rank: int) -> int:
        """Add a newly locked order at the back of its signature's queue, in the first week that fits."""
        week = self.quote_week(signature)
        at = int(self.bounds[signature + 1])
        self.ids = np.insert(self.ids, at, order_id)
        self.sig = np.insert(self.sig, at, signature)
        self.rank = np.insert(self.rank, at, rank)
        self.week = np.insert(self.week, at, week)
        self.key = np.insert(self.key, at, signature * self._stride + week)
        self.alive = np.insert(self.alive, at, True)
        self.bounds[signature + 1 :] += 1
        self.load[:, week] += self.uses_int[:, signature]
        return week

    def cancel(self, order_id: int) -> Moves:
        """Remove an order and pull the earliest-locked orders that fit into the freed slots."""
        found = np.flatnonzero((self.ids == order_id) & self.alive)
        if not found.size:
            empty = np.empty(0, dtype=np.int64)
            return Moves(empty, empty, empty)
        i = int(found[0])
        w = int(self.week[i])
        self.remove(np.array([i]))
        before = self.week.copy()
        if w < self.horizon:
            self._compact([w])
        return self._moves_since(before)

    def remove(self, rows: IntArray) -> None:
        """Drop orders (by row) from the allocation: built, or cancelled; nothing else moves."""
        rows = np.asarray(rows, dtype=np.int64)
        live = rows[self.alive[rows]]
        cells = self.sig[live] * (self.horizon + 1) + self.week[live]
        n_sig = self.uses.shape[1]
        counts = np.bincount(cells, minlength=n_sig * (self.horizon + 1)).reshape(n_sig, self.horizon + 1)
        self.load -= self.uses_int @ counts
        gone = np.bincount(self.sig[rows], minlength=n_sig)
        for name in ("ids", "sig", "rank", "week", "key", "alive"):
            setattr(self, name, np.delete(getattr(self, name), rows))
        self.bounds = self.bounds - np.concatenate([[0], np.cumsum(gone)])

    def recapacitate(self, capacity: IntArray) -> Moves:
        """Apply new weekly capacities: cuts push the latest-locked orders on, increases pull orders in."""
        capacity = np.asarray(capacity, dtype=np.int64)
        grown = np.flatnonzero((capacity > self.capacity).any(axis=0)).tolist()
        cut = (capacity < self.capacity).any(axis=1)
        self.capacity = capacity
        if not grown:  # a cut alone: the cascade knows what it moved, the book is not copied
            return self._cascade(np.asarray(self.uses[cut].any(axis=0), dtype=bool))
        before = self.week.copy()
        self._cascade(np.asarray(self.uses[cut].any(axis=0), dtype=bool))
        self._compact(grown)
        return self._moves_since(before)

    def fill(self) -> Moves:
        """Pull waiting orders into every week that still has room for them (e.g. new plan weeks)."""
        before = self.week.copy()
        room = (self.capacity - self.load[:, : self.horizon] > 0).any(axis=0)
        self._compact(np.flatnonzero(room).tolist())
        return self._moves_since(before)

    def _moves_since(self, before: IntArray) -> Moves:
        changed = np.flatnonzero((self.week != before) & self.alive)
        return Moves(self.ids[changed], before[changed], self.week[changed].copy())

    def _compact(self, weeks: list[int]) -> None:
        """Fill room in these weeks with the earliest-locked waiting orders that fit.

        Per week, each signature that still fits offers its first waiting orders (no more than the
        room it could take); merged in lock order, each is taken if it fits (``fill_week``): the
        same as taking, one at a time, the earliest-locked waiting order that fits. Their old weeks
        are filled in turn, so only the weeks the freed room reaches are touched.
        """
        heap = sorted({w for w in weeks if self.frozen <= w < self.horizon})
        dead = bool(heap) and not self.alive.all()
        while heap:
            w = heapq.heappop(heap)
            while heap and heap[0] == w:
                heapq.heappop(heap)
            room = self.capacity[:, w] - self.load[:, w]
            eligible = np.flatnonzero(~self.uses[room <= 0].any(axis=0))
            if not eligible.size:
                continue
            rows = self._waiting(w, eligible, room)
            if not rows.size:
                continue
            rows = rows[np.argsort(self.rank[rows], kind="stable")]
            taken = rows[fill_week(self.uses_int, self.sig[rows], room)]
            if not taken.size:
                continue
            n_sig = self.uses.shape[1]
            cells = self.sig[taken] * (self.horizon + 1) + self.week[taken]
            counts = np.bincount(cells, minlength=n_sig * (self.horizon + 1)).reshape(n_sig, -1)
            self.load -= self.uses_int @ counts
            self.load[:, w] += self.uses_int @ counts.sum(axis=1)
            for week in np.unique(self.week[taken]).tolist():
                if week < self.horizon:
                    heapq.heappush(heap, week)
            if dead:  # cancelled rows among the taken come along: the queue's weeks stay sorted
                taken = self._span(w, taken)
            self.week[taken] = w
            self.key[taken] = self.sig[taken] * self._stride + w

    def _span(self, w: int, taken: IntArray) -> IntArray:
        """Every row from each queue's first row after week ``w`` to its last taken row."""
        sigs, last = np.unique(self.sig[taken[::-1]], return_index=True)
        last = taken[::-1][last]
        first = np.searchsorted(self.key, sigs * self._stride + w, side="right")
        return _ranges(first, last + 1)

    def _waiting(self, w: int, eligible: IntArray, room: IntArray) -> IntArray:
        """The first waiting orders (planned after week ``w``) of each eligible signature, as many as
        the room of its tightest constraint (every waiting order for a signature that uses none)."""
        starts = np.searchsorted(self.key, eligible * self._stride + w, side="right")
        ends = self.bounds[eligible + 1]
        used = self.uses_int[:, eligible]
        big = np.iinfo(np.int64).max
        limit = np.where(used > 0, room[:, None], big).min(axis=0)
        take = np.minimum(limit, ends - starts)
        rows = _ranges(starts, starts + take)
        if self.alive[rows].all():
            return rows
        found = []  # cancelled orders among them (rare): walk each signature past them
        for s0, e0, k in zip(starts.tolist(), ends.tolist(), take.tolist(), strict=True):
            i, got = s0, 0
            while i < e0 and got < k:
                if self.alive[i]:
                    found.append(i)
                    got += 1
                i += 1
        return np.asarray(found, dtype=np.int64)

    def _cascade(self, affected: BoolArray) -> Moves:
        """Push the latest-locked orders of overfull weeks on, one week at a time; the orders moved.

        Only orders whose signature uses a constraint that was cut compete for the week (by lock
        order); everyone else keeps their week, so a battery cut moves battery users only. Each week
        is dealt to the competing queues by lock rank (``_deal``, as ``allocate`` deals a week), and
        what it cannot hold is the tail of each queue's run in that week: one slice per queue moves
        on. Only the cut signatures' cells from the first overfull week on are read or written.
        """
        sigs = np.flatnonzero(affected)
        over = (self.load[:, : self.horizon] > self.capacity).any(axis=0)
        none = np.empty(0, dtype=np.int64)
        if not sigs.size or not over.any():
            return Moves(none, none, none)
        w = int(np.argmax(over))
        uses, used = self.uses[:, sigs], self.uses_int[:, sigs]
        queues = np.arange(len(sigs), dtype=np.int64)
        reached = np.zeros(len(sigs), dtype=np.int64)  # rows below have moved already
        moved: list[tuple[int, int, int]] = []  # rows [a, b) first moved on from week w
        while w < self.horizon:
            cells = sigs * self._stride + w
            lo = np.searchsorted(self.key, cells, side="left")
            hi = np.searchsorted(self.key, cells, side="right")
            # This week's queues back to back, each in lock order: one sorted array to deal from.
            rows = _ranges(lo, hi)
            rank = self.rank[rows]
            big = int(rank.max()) + 2 if rows.size else 2
            keyed = np.repeat(queues * big, hi - lo) + rank
            start = np.concatenate([[0], np.cumsum(hi - lo)])
            live = None if self.alive[rows].all() else np.concatenate([[0], np.cumsum(self.alive[rows])])
            room = self.capacity[:, w] - self.load[:, w] + used @ _count(live, start[:-1], start[1:])
            head = _deal(uses, used, keyed, queues * big, rank, start[:-1], start[1:], room, live)
            bumped = _count(live, head, start[1:])  # the latest-locked orders the week cannot hold
            if bumped.any():
                delta = used @ bumped
                self.load[:, w] -= delta
                self.load[:, w + 1] += delta
                for q, (a, b) in enumerate(zip((lo + head - start[:-1]).tolist(), hi.tolist(), strict=True)):
                    if a < b:
                        self.week[a:b] = w + 1
                        self.key[a:b] += 1
                        moved.append((max(a, int(reached[q])), b, w))
                        reached[q] = max(int(reached[q]), b)
            later = (self.load[:, w + 1 : self.horizon] > self.capacity[:, w + 1 :]).any(axis=0)
            if not later.any():
                break
            w = w + 1 + int(np.argmax(later))
        spans = np.asarray(moved, dtype=np.int64).reshape(-1, 3)
        rows = _ranges(spans[:, 0], spans[:, 1])
        from_week = np.repeat(spans[:, 2], np.maximum(spans[:, 1] - spans[:, 0], 0))
        keep = self.alive[rows]
        return Moves(self.ids[rows[keep]], from_week[keep], self.week[rows[keep]])


def _count(live: IntArray | None, lo: IntArray, hi: IntArray) -> IntArray:
    """Live orders in each row range [lo, hi) (``live``: running count of live rows; None: all live)."""
    if live is None:
        return hi - lo
    counted: IntArray = live[hi] - live[lo]
    return counted


def _deal(
    uses: BoolArray,
    uses_int: IntArray,
    keyed: IntArray,
    base: IntArray,
    rank: IntArray,
    head: IntArray,
    end: IntArray,
    room: IntArray,
    live: IntArray | None = None,
) -> IntArray:
    """Where one week stops taking each queue's rows [head, end) (sorted by lock rank), in lock order.

    The greedy week: the earliest-locked order whose constraints all have room is taken, in turn.
    Instead of order by order, a binary search over lock rank finds the first rank at which some
    constraint fills up; everything locked before it is taken, the queues that use the full
    constraint stop, and the rest go on. ``keyed`` is ``sig * big + rank`` for every row and ``base``
    the queues' ``sig * big``; ``room`` is spent in place; ``live`` skips cancelled rows.
    """
    head = head.copy()
    never = np.iinfo(np.int64).max
    while True:
        blocked = uses[room <= 0].any(axis=0)
        act = np.flatnonzero(~blocked & (head < end))
        if not act.size:
            return head
        full_at = np.where(uses[:, act].any(axis=1), room, never)  # constraints these queues use
        first, stop = head[act], end[act]

        def demand(p: int, act: IntArray = act, first: IntArray = first) -> tuple[IntArray, IntArray]:
            at = np.searchsorted(keyed, base[act] + p, side="right")
            np.minimum(at, end[act], out=at)
            np.maximum(at, first, out=at)
            return at, uses_int[:, act] @ _count(live, first, at)

        lo = int(rank[first].min())
        hi = int(rank[stop - 1].max())
        at, need = demand(hi)
        if not (need >= full_at).any():
            head[act] = at
            room -= need
            return head
        while lo < hi:  # the smallest rank at which some constraint is exactly full
            mid = (lo + hi) // 2
            if (demand(mid)[1] >= full_at).any():
                hi = mid
            else:
                lo = mid + 1
        at, need = demand(lo)
        head[act] = at
        room -= need


def _ranges(lo: IntArray, hi: IntArray) -> IntArray:
    """The concatenation of ``arange(lo[i], hi[i])`` for every i, without a Python loop."""
    lengths = hi - lo
    keep = lengths > 0
    lo, lengths = lo[keep], lengths[keep]
    if not lengths.size:
        return np.empty(0, dtype=np.int64)
    total = int(lengths.sum())
    steps = np.ones(total, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    steps[starts] = lo - np.concatenate([[0], lo[:-1] + lengths[:-1] - 1])
    steps[0] = lo[0]
    return np.cumsum(steps)


def earliest_week(uses: BoolArray, room: IntArray, floor: int, frozen: int = 0) -> int:
    """The first week at or after ``floor`` (and ``frozen``) where every used constraint has room."""
    fits = (room[np.asarray(uses, dtype=bool)] > 0).all(axis=0)
    fits[: max(floor, frozen)] = False
    found = np.flatnonzero(fits)
    return int(found[0]) if found.size else int(room.shape[1])


def fill_week(uses: IntArray, sigs: IntArray, room: IntArray) -> BoolArray:
    """Which of these orders (in lock order) one week takes: each fits or is skipped, in turn."""
    keep = np.zeros(len(sigs), dtype=bool)
    left = np.asarray(room, dtype=np.int64).copy()
    open_ = np.ones(len(sigs), dtype=bool)
    unit = uses.size == 0 or int(uses.max()) <= 1
    start = 0
    while True:
        blocked: BoolArray = np.asarray((uses[left <= 0] > 0).any(axis=0))
        open_[start:] &= ~blocked[sigs[start:]]
        idx = start + np.flatnonzero(open_[start:])
        if not idx.size:
            return keep
        chosen = sigs[idx]
        demand = uses @ np.bincount(chosen, minlength=uses.shape[1])
        binding = np.flatnonzero(demand > left)  # only these can fill up among these orders
        if not binding.size:
            keep[idx] = True
            return keep
        if unit:  # one unit each: a constraint overflows at its (left + 1)-th user among the orders
            j = len(chosen)
            for k in binding.tolist():
                users = np.flatnonzero(uses[k, chosen])
                if 0 <= left[k] < users.size:
                    j = min(j, int(users[left[k]]))
        else:
            used = np.cumsum(uses[binding][:, chosen], axis=1, dtype=np.int32)
            j = int(np.argmax((used > left[binding, None]).any(axis=0)))
        keep[idx[:j]] = True
        if j:
            left -= uses @ np.bincount(chosen[:j], minlength=uses.shape[1])
        start = int(idx[j])
        if not (left <= 0).any():  # the order needs more than one unit of something: skip it alone
            open_[start] = False


def allocate(
    uses: BoolArray,
    capacity: IntArray,
    ids: IntArray,
    sig: IntArray,
    rank: IntArray,
    *,
    frozen: int = 0,
) -> Allocation:
    """The greedy allocation of locked orders from scratch, in lock order, week by week."""
    uses = np.asarray(uses, dtype=bool)
    capacity = np.asarray(capacity, dtype=np.int64)
    _n_con, n_sig = uses.shape
    horizon = capacity.shape[1]
    placeholder = np.full(len(ids), horizon, dtype=np.int64)
    alloc = Allocation(uses, capacity, ids, sig, rank, placeholder, frozen=frozen)
    uses_int = alloc.uses_int
    big = int(alloc.rank.max()) + 2 if len(alloc.rank) else 2
    keyed = alloc.sig * big + alloc.rank
    base = np.arange(n_sig, dtype=np.int64) * big
    head = alloc.bounds[:-1].copy()
    end = alloc.bounds[1:]
    counts = np.zeros((n_sig, horizon + 1), dtype=np.int64)
    for w in range(frozen, horizon):
        before = head
        head = _deal(uses, uses_int, keyed, base, alloc.rank, head, end, capacity[:, w].copy())
        counts[:, w] = head - before
    counts[:, horizon] = end - head
    weeks = np.repeat(np.tile(np.arange(horizon + 1, dtype=np.int64), n_sig), counts.ravel())
    alloc.week = weeks
    alloc.key = alloc.sig * alloc._stride + weeks
    alloc.load = alloc._load()
    return alloc

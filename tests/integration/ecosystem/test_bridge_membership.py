"""Bridges' partition leases in the database: no partition has two holders, a dead bridge's lapse, and
the fence of a bridge that stalled past its lease."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from carloop.clock import utcnow
from carloop.ecosystem import membership
from carloop.ecosystem.membership import Shares
from carloop.ecosystem.models import BridgePartition
from carloop.ecosystem.shares import share_of

LEASE = timedelta(seconds=10)


def _beat(factory: sessionmaker[Session], member: str, at_s: float = 0.0) -> membership.Beat:
    with factory.begin() as session:
        return membership.beat(
            session=session, member=member, now=utcnow() + timedelta(seconds=at_s), lease=LEASE, partitions=16
        )


def test_a_joining_bridge_waits_for_the_holder_to_release(session_factory: sessionmaker[Session]) -> None:
    first = _beat(session_factory, "bridge-a")
    assert first.held == frozenset(range(16)) and first.release == frozenset()
    joined = _beat(session_factory, "bridge-b")
    assert joined.held == frozenset()  # a still holds everything, its lease unexpired
    again = _beat(session_factory, "bridge-a")
    assert again.release == share_of("bridge-b", ["bridge-a", "bridge-b"], 16)
    with session_factory.begin() as session:
        membership.release(session=session, member="bridge-a", partitions=again.release)
    taken = _beat(session_factory, "bridge-b")
    assert taken.held == again.release
    assert _beat(session_factory, "bridge-a").held == frozenset(range(16)) - taken.held


def test_a_dead_bridges_partitions_are_taken_after_its_lease(session_factory: sessionmaker[Session]) -> None:
    _beat(session_factory, "bridge-a")
    assert _beat(session_factory, "bridge-b", at_s=5).held == frozenset()  # a may still be alive
    later = _beat(session_factory, "bridge-b", at_s=11)  # a has not beaten for longer than its lease
    assert later.held == frozenset(range(16)) and later.members == ("bridge-b",)


def test_a_leaving_bridge_frees_everything_at_once(session_factory: sessionmaker[Session]) -> None:
    _beat(session_factory, "bridge-a")
    _beat(session_factory, "bridge-b")
    with session_factory.begin() as session:
        membership.leave(session=session, member="bridge-a")
    assert _beat(session_factory, "bridge-b").held == frozenset(range(16))


def test_a_lapsed_lease_nobody_took_is_renewed_not_orphaned(session_factory: sessionmaker[Session]) -> None:
    _beat(session_factory, "bridge-a")
    resumed = _beat(session_factory, "bridge-a", at_s=30)  # a stalled three leases long; no one else ran
    assert resumed.held == frozenset(range(16)) and resumed.taken == frozenset()
    assert _beat(session_factory, "bridge-b", at_s=31).held == frozenset()  # a holds them again


def test_a_stalled_bridge_finds_its_partitions_taken(session_factory: sessionmaker[Session]) -> None:
    _beat(session_factory, "bridge-a")
    taken = _beat(session_factory, "bridge-b", at_s=11)  # a stalled past its lease: b serves everything
    assert taken.held == frozenset(range(16)) == taken.taken
    resumed = _beat(session_factory, "bridge-a", at_s=12)
    assert resumed.held == frozenset() and resumed.release == frozenset()
    with session_factory.begin() as session:
        assert membership.holding(
            session=session, member="bridge-a", now=utcnow() + timedelta(seconds=12)
        ) == (frozenset())
        assert membership.holding(
            session=session, member="bridge-b", now=utcnow() + timedelta(seconds=12)
        ) == (frozenset(range(16)))


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _take_over(factory: sessionmaker[Session], partitions: frozenset[int], member: str) -> None:
    """Another bridge took these partitions (and, with member "", gave them up again)."""
    with factory.begin() as session:
        session.execute(
            update(BridgePartition)
            .where(BridgePartition.partition.in_(sorted(partitions)))
            .values(member=member, lease_until=utcnow() + LEASE, since=utcnow())
        )


def test_shares_stop_acting_before_the_lease_can_be_taken(session_factory: sessionmaker[Session]) -> None:
    clock = Monotonic()
    shares = Shares(session_factory, member="bridge-a", lease=LEASE, partitions=16, clock=clock)
    assert not shares.current()  # no beat yet: nothing to act for
    gained, lost, release = shares.beat()
    assert gained == frozenset(range(16)) and not lost and not release
    clock.now += LEASE.total_seconds() * 0.79
    assert shares.current()
    clock.now += LEASE.total_seconds() * 0.02  # past the lease less the margin for other hosts' clocks
    assert not shares.current()
    assert shares.beat() == (frozenset(), frozenset(), frozenset()) and shares.current()


def test_shares_taken_while_stalled_are_lost_and_taken_back_ones_loaded_again(
    session_factory: sessionmaker[Session],
) -> None:
    shares = Shares(session_factory, member="bridge-a", lease=LEASE, partitions=16, clock=Monotonic())
    shares.beat()
    _take_over(session_factory, frozenset({1, 2}), "bridge-b")  # b holds 1 and 2 now
    gained, lost, _ = shares.beat()
    assert lost == frozenset({1, 2}) and gained == frozenset()
    assert shares.held == frozenset(range(16)) - {1, 2}
    _take_over(session_factory, frozenset({3}), "")  # b took 3 and gave it up: a takes it back
    shares.held |= {3}  # as if a had not noticed b's turn in between
    gained, lost, _ = shares.beat()
    assert 3 in gained and 3 in lost  # forget what a had (stale), load what b left

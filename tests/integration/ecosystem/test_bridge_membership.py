"""Bridges' partition leases in the database: no partition has two holders, a dead bridge's lapse."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from carloop.clock import utcnow
from carloop.ecosystem import membership
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

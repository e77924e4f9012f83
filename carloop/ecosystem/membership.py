"""Bridges' membership and partition leases in the database (cars sharded across bridge processes).

Each bridge process beats every ``beat_s`` seconds in one transaction: it renews its member row and the
leases of the partitions it holds, reads the live members, works out its share (``shares.share_of``)
and takes the free partitions of its share with one conditional UPDATE each batch ("free, or its
holder's lease lapsed"), so a partition never has two holders while their clocks agree. Partitions
it holds that now belong to another member are returned to the caller, which drops their cars, writes
their state to the database and only then ``release``s them; the new holder takes them at its next
beat and loads the state. A bridge that dies holds its partitions until their lease lapses.

Fencing: a bridge that stalls past its lease (a long GC pause, a stop signal, a database it cannot
reach) and resumes must not act for cars another bridge took meanwhile. ``Shares.current`` says
whether its last beat's lease still holds by this process's own monotonic clock, less a margin for
clock skew between hosts, so it stops acting before anyone may take over; its writes of cars' state
go through ``holding``, which reads (and on PostgreSQL locks against a taker) the partitions it holds
in the writing transaction itself. A partition whose lease lapsed but which nobody took is simply
renewed at the next beat: nobody else acted for it, so what the bridge has in memory is still true.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from carloop.clock import utcnow
from carloop.ecosystem.models import BridgeMember, BridgePartition
from carloop.ecosystem.shares import DEFAULT_PARTITIONS, share_of

DEFAULT_LEASE = timedelta(seconds=10)
SKEW_SHARE = 0.2  # of the lease: how far another host's clock may be ahead of this one's


def member_name() -> str:
    """A name for this bridge process that no other process shares: host, pid and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:120]


@dataclass(frozen=True)
class Beat:
    """What one beat found."""

    held: frozenset[int]  # partitions this member holds now, leases renewed
    release: frozenset[int]  # held partitions another member should serve: drop, then ``release``
    members: tuple[str, ...]  # the live members, sorted
    taken: frozenset[int] = frozenset()  # taken at this beat (free, or lapsed in another's hands)


def _ensure_partitions(session: Session, partitions: int) -> None:
    have = session.scalar(
        select(BridgePartition.partition).order_by(BridgePartition.partition.desc()).limit(1)
    )
    if have is not None and have >= partitions - 1:
        return
    rows = [{"partition": p, "member": ""} for p in range(partitions)]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(BridgePartition).values(rows).on_conflict_do_nothing(index_elements=["partition"]))


def beat(
    *,
    session: Session,
    member: str,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
    partitions: int = DEFAULT_PARTITIONS,
) -> Beat:
    """Renew this member and its partitions, take the free ones of its share; what it holds now."""
    until = now + lease
    renewed = session.execute(
        update(BridgeMember).where(BridgeMember.name == member).values(lease_until=until)
    ).rowcount  # type: ignore[attr-defined]
    if not renewed:
        session.add(BridgeMember(name=member, joined_at=now, lease_until=until))
        session.flush()
    _ensure_partitions(session, partitions)
    session.execute(  # lapsed or not: a partition still in this member's name was nobody else's since
        update(BridgePartition)
        .where(BridgePartition.member == member)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    live = tuple(
        session.scalars(
            select(BridgeMember.name).where(BridgeMember.lease_until > now).order_by(BridgeMember.name)
        )
    )
    wanted = share_of(member, live, partitions)
    taken = frozenset(
        session.scalars(
            update(BridgePartition)
            .where(
                BridgePartition.partition.in_(sorted(wanted)),
                BridgePartition.member != member,
                or_(
                    BridgePartition.member == "",
                    BridgePartition.lease_until.is_(None),
                    BridgePartition.lease_until <= now,
                ),
            )
            .values(member=member, lease_until=until, since=now)
            .returning(BridgePartition.partition)
            .execution_options(synchronize_session=False)
        )
    )
    held = frozenset(
        session.scalars(
            select(BridgePartition.partition).where(
                BridgePartition.member == member, BridgePartition.lease_until > now
            )
        )
    )
    return Beat(held, held - wanted, live, taken)


def holding(*, session: Session, member: str, now: datetime) -> frozenset[int]:
    """The partitions ``member`` holds with a live lease, read in the caller's transaction; on
    PostgreSQL their rows stay locked (FOR SHARE) until it ends, so no other bridge takes one while the
    caller writes its cars' state (SQLite lets one transaction write at a time anyway)."""
    query = select(BridgePartition.partition).where(
        BridgePartition.member == member, BridgePartition.lease_until > now
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    return frozenset(session.scalars(query))


def release(*, session: Session, member: str, partitions: Iterable[int]) -> None:
    """Give partitions up (their cars' state is in the database already): free for their new holder."""
    chosen = sorted(partitions)
    if not chosen:
        return
    session.execute(
        update(BridgePartition)
        .where(BridgePartition.member == member, BridgePartition.partition.in_(chosen))
        .values(member="", lease_until=None, since=None)
        .execution_options(synchronize_session=False)
    )


def leave(*, session: Session, member: str) -> None:
    """Release every partition and leave the membership (a clean stop)."""
    session.execute(
        update(BridgePartition)
        .where(BridgePartition.member == member)
        .values(member="", lease_until=None, since=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(BridgeMember).where(BridgeMember.name == member))


@dataclass
class Shares:
    """One bridge's view of its share, kept by beating; ``held`` is what it serves now."""

    factory: sessionmaker[Session]
    member: str = field(default_factory=member_name)
    lease: timedelta = DEFAULT_LEASE
    partitions: int = DEFAULT_PARTITIONS
    held: frozenset[int] = frozenset()
    members: tuple[str, ...] = ()
    clock: Callable[[], float] = time.monotonic
    _current_until: float = field(default=float("-inf"), init=False, repr=False)

    def beat(self) -> tuple[frozenset[int], frozenset[int], frozenset[int]]:
        """One beat: (gained, lost, to_release). ``lost`` were taken by others while this process
        stalled past its lease (or taken back after another held them): forget them at once, saving
        nothing of theirs. ``to_release``: drop, write state, then ``release``."""
        started = self.clock()  # before the lease's start in the database: the local deadline is earlier
        with self.factory.begin() as session:
            found = beat(
                session=session,
                member=self.member,
                now=utcnow(),
                lease=self.lease,
                partitions=self.partitions,
            )
        again = found.taken & self.held  # lost to another bridge and taken back: what we had is stale
        gained, lost = (found.held - self.held) | again, (self.held - found.held) | again
        self.held, self.members = found.held, found.members
        self._current_until = started + self.lease.total_seconds() * (1 - SKEW_SHARE)
        return gained, lost, found.release

    def current(self) -> bool:
        """Whether the last beat's lease still holds, with the margin for other hosts' clocks: past it,
        another bridge may take this one's partitions at any moment, so it must not act for them."""
        return self.clock() < self._current_until

    def holding(self, session: Session) -> frozenset[int]:
        """The partitions held now, locked in ``session``'s transaction (see ``holding``)."""
        return holding(session=session, member=self.member, now=utcnow())

    def release(self, partitions: frozenset[int]) -> None:
        """Free partitions whose cars this bridge has dropped and saved."""
        with self.factory.begin() as session:
            release(session=session, member=self.member, partitions=partitions)
        self.held -= partitions

    def leave(self) -> None:
        """Free everything and leave (a clean stop, after saving every car's state)."""
        with self.factory.begin() as session:
            leave(session=session, member=self.member)
        self.held = frozenset()

    def settled(self) -> bool:
        """Whether this bridge holds exactly its share of the live members."""
        return self.member in self.members and self.held == share_of(
            self.member, self.members, self.partitions
        )

"""Bridges' membership and partition leases in the database (cars sharded across bridge processes).

Each bridge process beats every ``beat_s`` seconds in one transaction: it renews its member row and the
leases of the partitions it holds, reads the live members, works out its share (``shares.share_of``)
and takes the free partitions of its share with one conditional UPDATE each batch ("free, mine, or
its holder's lease lapsed"), so a partition never has two holders while their clocks agree. Partitions
it holds that now belong to another member are returned to the caller, which drops their cars, writes
their state to the database and only then ``release``s them; the new holder takes them at its next
beat and loads the state. A bridge that dies holds its partitions until their lease lapses.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
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


def member_name() -> str:
    """A name for this bridge process that no other process shares: host, pid and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:120]


@dataclass(frozen=True)
class Beat:
    """What one beat found."""

    held: frozenset[int]  # partitions this member holds now, leases renewed
    release: frozenset[int]  # held partitions another member should serve: drop, then ``release``
    members: tuple[str, ...]  # the live members, sorted


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
    session.execute(
        update(BridgePartition)
        .where(BridgePartition.member == member, BridgePartition.lease_until > now)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    live = tuple(
        session.scalars(
            select(BridgeMember.name).where(BridgeMember.lease_until > now).order_by(BridgeMember.name)
        )
    )
    wanted = share_of(member, live, partitions)
    session.execute(
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
        .execution_options(synchronize_session=False)
    )
    held = frozenset(
        session.scalars(
            select(BridgePartition.partition).where(
                BridgePartition.member == member, BridgePartition.lease_until > now
            )
        )
    )
    return Beat(held, held - wanted, live)


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

    def beat(self) -> tuple[frozenset[int], frozenset[int], frozenset[int]]:
        """One beat: (gained, lost, to_release). ``lost`` were taken by others (this process stalled
        past its lease): drop them at once. ``to_release``: drop, write state, then ``release``."""
        with self.factory.begin() as session:
            found = beat(
                session=session,
                member=self.member,
                now=utcnow(),
                lease=self.lease,
                partitions=self.partitions,
            )
        gained, lost = found.held - self.held, self.held - found.held
        self.held, self.members = found.held, found.members
        return gained, lost, found.release

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

"""The points journal: idempotent balanced entries, balances, the owner's wallet lock and the books check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carloop.clock import utcnow
from carloop.loyalty import rules
from carloop.loyalty.models import PointsAccount, PointsEntry, PointsPosting, PointsWallet


def find(*, session: Session, key: str) -> PointsEntry | None:
    """The entry booked under ``key``, if any."""
    return session.scalar(select(PointsEntry).where(PointsEntry.idempotency_key == key))


def post(
    *,
    session: Session,
    key: str,
    kind: str,
    customer_id: int,
    points: int,
    lines: Sequence[rules.Line],
    reason: str = "",
    memo: str = "",
    expires_at: datetime | None = None,
    at: datetime | None = None,
) -> PointsEntry:
    """Book one balanced entry once; the same key again returns the first entry unchanged."""
    existing = find(session=session, key=key)
    if existing is not None:
        return existing
    if not rules.is_balanced(lines):
        raise ValueError(f"points entry {key!r} does not balance")
    entry = PointsEntry(
        idempotency_key=key,
        kind=kind,
        reason=reason,
        customer_id=customer_id,
        points=points,
        memo=memo[:300],
        expires_at=expires_at,
        created_at=at or utcnow(),
    )
    entry.postings = [
        PointsPosting(account=PointsAccount(ln.account), customer_id=ln.customer_id, amount=ln.amount)
        for ln in lines
    ]
    session.add(entry)
    session.flush()
    return entry


def lock_wallet(*, session: Session, customer_id: int) -> None:
    """Serialise every points change of one owner until commit (a row lock on both databases)."""
    bumped = session.execute(
        update(PointsWallet)
        .where(PointsWallet.customer_id == customer_id)
        .values(version=PointsWallet.version + 1)
        .execution_options(synchronize_session=False)
    )
    if bumped.rowcount:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.add(PointsWallet(customer_id=customer_id, version=1))
    except IntegrityError:  # another transaction created it first: wait for its lock instead
        session.execute(
            update(PointsWallet)
            .where(PointsWallet.customer_id == customer_id)
            .values(version=PointsWallet.version + 1)
            .execution_options(synchronize_session=False)
        )


def balance(*, session: Session, customer_id: int) -> int:
    """An owner's spendable points (the credit balance of their owner account)."""
    total = session.scalar(
        select(func.coalesce(func.sum(PointsPosting.amount), 0)).where(
            PointsPosting.account == PointsAccount.OWNER, PointsPosting.customer_id == customer_id
        )
    )
    return -int(total or 0)


@dataclass
class PointsReport:
    """The result of checking the points books."""

    entries: int = 0
    unbalanced: list[tuple[int, str, int]] = field(default_factory=list)  # (id, key, sum)
    negative_owners: list[tuple[int, int]] = field(default_factory=list)  # (customer_id, balance)
    mismatched_entries: list[int] = field(default_factory=list)  # entry ids whose points != owner lines

    @property
    def ok(self) -> bool:
        """True when every entry balances, matches its owner postings and no owner is negative."""
        return not self.unbalanced and not self.negative_owners and not self.mismatched_entries


def check(*, session: Session) -> PointsReport:
    """Verify every entry sums to zero, agrees with its owner lines, and no owner balance is negative."""
    report = PointsReport(entries=session.scalar(select(func.count(PointsEntry.id))) or 0)
    total = func.coalesce(func.sum(PointsPosting.amount), 0)
    rows = session.execute(
        select(PointsEntry.id, PointsEntry.idempotency_key, total)
        .outerjoin(PointsPosting, PointsPosting.entry_id == PointsEntry.id)
        .group_by(PointsEntry.id, PointsEntry.idempotency_key)
        .having(total != 0)
    )
    report.unbalanced = [(int(i), str(k), int(s)) for i, k, s in rows]
    owner_sum = func.coalesce(func.sum(PointsPosting.amount), 0)
    mismatched = session.execute(
        select(PointsEntry.id)
        .join(PointsPosting, PointsPosting.entry_id == PointsEntry.id)
        .where(PointsPosting.account == PointsAccount.OWNER)
        .group_by(PointsEntry.id, PointsEntry.points)
        .having(owner_sum != -PointsEntry.points)
    )
    report.mismatched_entries = [int(i) for (i,) in mismatched]
    negatives = session.execute(
        select(PointsPosting.customer_id, func.sum(PointsPosting.amount))
        .where(PointsPosting.account == PointsAccount.OWNER)
        .group_by(PointsPosting.customer_id)
        .having(func.sum(PointsPosting.amount) > 0)
    )
    report.negative_owners = [(int(c or 0), -int(s)) for c, s in negatives]
    return report

"""Points use cases: award under the earn rules, compensate, spend, return, expire, read."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal
from carloop.audit import service as audit
from carloop.clock import SHANGHAI, utcnow
from carloop.errors import Conflict, NotFound, PolicyViolation
from carloop.loyalty import ledger, rules
from carloop.loyalty.models import ContributionEvent, PointsEntry, Referral, ReferralCode
from carloop.loyalty.rules import EARN_RULES, EarnReason


def award_points(
    *,
    session: Session,
    customer_id: int,
    reason: EarnReason,
    key: str,
    memo: str = "",
    now: datetime | None = None,
) -> PointsEntry | None:
    """Credit the points an earn rule gives, once per key and within its caps; None when capped."""
    now = now or utcnow()
    full_key = f"earn:{reason}:{key}"
    existing = ledger.find(session=session, key=full_key)
    if existing is not None:
        return existing
    rule = EARN_RULES[reason]
    ledger.lock_wallet(session=session, customer_id=customer_id)
    if not rules.within_caps(
        rule,
        today_count=_count_since(session, customer_id, reason, _local_midnight(now)),
        year_count=_count_since(session, customer_id, reason, _local_new_year(now)),
    ):
        return None
    _add_contribution(session, customer_id=customer_id, reason=reason, key=full_key, score=rule.contribution)
    if rule.points <= 0:
        return None
    return ledger.post(
        session=session,
        key=full_key,
        kind="earn",
        reason=str(reason),
        customer_id=customer_id,
        points=rule.points,
        lines=rules.earned(customer_id, rule.points),
        memo=memo,
        expires_at=rules.expires_at(now),
        at=now,
    )


def _local_midnight(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _local_new_year(now: datetime) -> datetime:
    return _local_midnight(now).replace(month=1, day=1)


def _count_since(session: Session, customer_id: int, reason: EarnReason, since: datetime) -> int:
    return int(
        session.scalar(
            select(func.count(PointsEntry.id)).where(
                PointsEntry.customer_id == customer_id,
                PointsEntry.kind == "earn",
                PointsEntry.reason == str(reason),
                PointsEntry.created_at >= since,
            )
        )
        or 0
    )


def _add_contribution(
    session: Session, *, customer_id: int, reason: EarnReason, key: str, score: int
) -> None:
    if score <= 0 or session.scalar(select(ContributionEvent.id).where(ContributionEvent.key == key)):
        return
    session.add(ContributionEvent(key=key, customer_id=customer_id, reason=str(reason), score=score))
    session.flush()


def daily_checkin(*, session: Session, customer_id: int, now: datetime | None = None) -> PointsEntry | None:
    """Today's check-in points (once per China Standard Time day)."""
    now = now or utcnow()
    return award_points(
        session=session,
        customer_id=customer_id,
        reason=EarnReason.DAILY_CHECKIN,
        key=f"{customer_id}:{rules.local_day(now).isoformat()}",
        now=now,
    )


def record_referral(*, session: Session, referrer_id: int, referee_id: int) -> Referral:
    """Remember who referred a customer; refuse self-referral and a second referrer."""
    if referrer_id == referee_id:
        raise PolicyViolation("You cannot refer yourself.")
    existing = session.scalar(select(Referral).where(Referral.referee_id == referee_id))
    if existing is not None:
        if existing.referrer_id != referrer_id:
            raise Conflict("This customer was already referred by someone else.")
        return existing
    referral = Referral(referrer_id=referrer_id, referee_id=referee_id)
    session.add(referral)
    session.flush()
    return referral


def referrer_of(*, session: Session, customer_id: int) -> int | None:
    """Who referred a customer, if anyone."""
    return session.scalar(select(Referral.referrer_id).where(Referral.referee_id == customer_id))


def grant_compensation(
    *, session: Session, principal: Principal, customer_id: int, points: int, reason: str, key: str
) -> PointsEntry:
    """Staff grant points to make up for a fault, with a reason; audited, once per key."""
    if not 0 < points <= rules.MAX_COMPENSATION:
        raise PolicyViolation(f"Compensation is between 1 and {rules.MAX_COMPENSATION} points.")
    if not reason.strip():
        raise PolicyViolation("Say why the points are granted.")
    full_key = f"compensation:{key}"
    existing = ledger.find(session=session, key=full_key)
    if existing is not None:
        return existing
    ledger.lock_wallet(session=session, customer_id=customer_id)
    entry = ledger.post(
        session=session,
        key=full_key,
        kind="earn",
        reason=str(EarnReason.COMPENSATION),
        customer_id=customer_id,
        points=points,
        lines=rules.earned(customer_id, points),
        memo=reason,
        expires_at=rules.expires_at(utcnow()),
    )
    audit.record(
        session=session,
        principal=principal,
        action="points.compensate",
        target_type="customer",
        target_id=customer_id,
        detail={"points": points, "reason": reason[:200], "entry": entry.id},
    )
    return entry


def spend_points(*, session: Session, customer_id: int, points: int, key: str, memo: str = "") -> PointsEntry:
    """Take points for a purchase, once per key; refuse (never go negative) when the balance is short."""
    full_key = f"spend:{key}"
    existing = ledger.find(session=session, key=full_key)
    if existing is not None:
        return existing
    ledger.lock_wallet(session=session, customer_id=customer_id)
    have = ledger.balance(session=session, customer_id=customer_id)
    if have < points:
        raise PolicyViolation(
            f"Not enough points: {points} needed, {have} available.", needed=points, available=have
        )
    return ledger.post(
        session=session,
        key=full_key,
        kind="spend",
        customer_id=customer_id,
        points=-points,
        lines=rules.spent(customer_id, points),
        memo=memo,
    )


def return_points(
    *, session: Session, customer_id: int, points: int, key: str, memo: str = ""
) -> PointsEntry:
    """Give spent points back (a shop refund), once per key."""
    ledger.lock_wallet(session=session, customer_id=customer_id)
    return ledger.post(
        session=session,
        key=f"return:{key}",
        kind="refund",
        customer_id=customer_id,
        points=points,
        lines=rules.returned(customer_id, points),
        memo=memo,
    )


def expire_points(*, session: Session, customer_id: int, now: datetime | None = None) -> int:
    """Lapse what is left of lots past their expiry (oldest lots are used first); returns points expired."""
    now = now or utcnow()
    ledger.lock_wallet(session=session, customer_id=customer_id)
    entries = session.scalars(select(PointsEntry).where(PointsEntry.customer_id == customer_id)).all()
    lots = [rules.Lot(e.points, e.expires_at) for e in entries if e.points > 0 and e.kind != "refund"]
    consumed = -sum(e.points for e in entries if e.kind in ("spend", "expire")) - sum(
        e.points for e in entries if e.kind == "refund"
    )
    due = min(rules.lapsed(lots, consumed, now), ledger.balance(session=session, customer_id=customer_id))
    if due <= 0:
        return 0
    ledger.post(
        session=session,
        key=f"expire:{customer_id}:{now.isoformat()}",
        kind="expire",
        customer_id=customer_id,
        points=-due,
        lines=rules.expired(customer_id, due),
        memo="expiry policy",
    )
    return due


def balance(*, session: Session, customer_id: int) -> int:
    """An owner's spendable points."""
    return ledger.balance(session=session, customer_id=customer_id)


def contribution_score(*, session: Session, customer_id: int) -> int:
    """An owner's contribution score: earned by taking part, never spendable."""
    total = session.scalar(
        select(func.coalesce(func.sum(ContributionEvent.score), 0)).where(
            ContributionEvent.customer_id == customer_id
        )
    )
    return int(total or 0)


def history(*, session: Session, customer_id: int, limit: int = 100) -> list[PointsEntry]:
    """An owner's points movements, newest first."""
    query = (
        select(PointsEntry)
        .where(PointsEntry.customer_id == customer_id)
        .order_by(PointsEntry.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def expiring_soon(*, session: Session, customer_id: int, now: datetime | None = None) -> int:
    """Points that will lapse within 90 days unless spent first."""
    now = now or utcnow()
    entries = session.scalars(select(PointsEntry).where(PointsEntry.customer_id == customer_id)).all()
    lots = [rules.Lot(e.points, e.expires_at) for e in entries if e.points > 0 and e.kind != "refund"]
    consumed = -sum(e.points for e in entries if e.kind in ("spend", "expire")) - sum(
        e.points for e in entries if e.kind == "refund"
    )
    return rules.lapsed(lots, consumed, now + timedelta(days=90)) - rules.lapsed(lots, consumed, now)


def owners_with_lapsed_lots(*, session: Session, now: datetime | None = None) -> list[int]:
    """Owners holding an earned lot past its expiry (candidates for ``expire_points``), by id."""
    now = now or utcnow()
    query = (
        select(PointsEntry.customer_id)
        .where(PointsEntry.expires_at <= now, PointsEntry.points > 0)
        .distinct()
        .order_by(PointsEntry.customer_id)
    )
    return [int(c) for c in session.scalars(query)]


REFERRAL_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: codes are read aloud


def referral_code(*, session: Session, customer_id: int) -> ReferralCode:
    """An owner's referral code, made on first use."""
    existing = session.scalar(select(ReferralCode).where(ReferralCode.customer_id == customer_id))
    if existing is not None:
        return existing
    while True:
        code = "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(8))
        if session.scalar(select(ReferralCode.id).where(ReferralCode.code == code)) is None:
            break
    row = ReferralCode(customer_id=customer_id, code=code)
    session.add(row)
    session.flush()
    return row


def claim_referral(*, session: Session, referee_id: int, code: str) -> Referral:
    """A customer says who referred them, by that owner's code (never themselves, only one referrer)."""
    owner = session.scalar(select(ReferralCode).where(ReferralCode.code == code.strip().upper()))
    if owner is None:
        raise NotFound(f"No referral code {code.strip()[:16]!r}.")
    return record_referral(session=session, referrer_id=owner.customer_id, referee_id=referee_id)


def referrals_made(*, session: Session, customer_id: int) -> list[Referral]:
    """The customers an owner referred, oldest first."""
    query = select(Referral).where(Referral.referrer_id == customer_id).order_by(Referral.id)
    return list(session.scalars(query))

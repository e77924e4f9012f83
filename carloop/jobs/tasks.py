"""The scheduled jobs themselves: each opens its own transactions and calls a domain's service."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from carloop.appointments import reminders as appointment_reminders
from carloop.campaigns import opening as campaign_opening
from carloop.jobs.rules import JobResult
from carloop.loyalty import service as loyalty
from carloop.ordering import buyer_notices as notice_money
from carloop.ordering import deposits
from carloop.ordering import service as ordering
from carloop.production import calibration, inventory

log = logging.getLogger("carloop.jobs")


def auto_lock(sessions: sessionmaker[Session], now: datetime) -> JobResult:
    """Lock every reserved order whose refundable window has ended, each at its window's end."""
    with sessions.begin() as session:
        locked = ordering.auto_lock_due(session=session, now=now)
    return JobResult.ok(f"{locked} orders locked")


def next_auto_lock(session: Session) -> datetime | None:
    """The next refund window to end."""
    return ordering.next_auto_lock_at(session=session)


def lapse_unpaid(sessions: sessionmaker[Session], now: datetime) -> JobResult:
    """End unpaid reservations at their payment window's end; their places and numbers pass on."""
    total = 0
    while True:
        with sessions.begin() as session:
            lapsed = deposits.lapse_unpaid(session=session, now=now)
        total += lapsed
        if lapsed < deposits.LAPSE_BATCH:
            return JobResult.ok(f"{total} unpaid reservations lapsed")


def next_lapse(session: Session) -> datetime | None:
    """The next payment window to end."""
    return deposits.next_lapse_at(session=session)


def offer_expiry(sessions: sessionmaker[Session], now: datetime) -> JobResult:
    """Pass every inventory offer past its 72 hours on to the next waiting order."""
    with sessions.begin() as session:
        moved = inventory.expire_offers(session=session, now=now)
    return JobResult.ok(f"{moved} offers expired")


def next_offer_expiry(session: Session) -> datetime | None:
    """The next inventory offer to run out."""
    return inventory.next_offer_expiry(session=session)


def reminders(sessions: sessionmaker[Session], now: datetime) -> JobResult:
    """Leave reminders for appointments within a day and warn the buyers whose configuration locks
    within a day (the outbox sends their SMS and e-mail)."""
    done = appointment_reminders.send_due(factory=sessions, now=now)
    with sessions.begin() as session:
        warned = notice_money.warn_before_lock(session=session, now=now)
    return JobResult.ok(f"{done.queued} reminders queued, {warned} lock warnings")


def ledger_check(sessions: sessionmaker[Session], now: datetime) -> JobResult:
    """Prove every entry balances, every order holds paid - refunded - forfeited, and none forfeited
    more than its deposit policy or keeps money it can no longer use."""
    with sessions() as session:
        report = ordering.check_ledger(session=session)
    if report.ok:
        return JobResult.ok(f"{report.entries} entries balanced")
    problems = [f"entry {i} ({k}) sums to {s} fen" for i, k, s in report.unbalanced_entries]
    problems += [
        f"order {m.order_id}: ledger {m.ledger_held_fen} fen, expected {m.expected_held_fen}"
        for m in report.mismatches
    ]
    problems += [
        f"account {a}: ledger {have} fen, records {want}" for a, have, want in report.account_mismatches
    ]
    problems += [
        f"order {b.number}: {b.what} {b.amount_fen} fen, policy allows {b.limit_fen}"
        for b in report.policy_breaches
    ]
    log.error("ledger check failed: %s", "; ".join(problems))
    return JobResult.failed(f"{len(problems)} problems: " + "; ".join(problems))


def points_expiry(sessions: sessionmaker[Session], now: datetime) -> JobResult:
    """Lapse what is left of every owner's points lots past their expiry, one owner per transaction."""
    with sessions() as session:
        owners = loyalty.owners_with_lapsed_lots(session=session, now=now)
    expired = 0
    for customer_id in owners:
        with sessions.begin() as session:
            expired += loyalty.expire_points(session=session, customer_id=customer_id, now=now)
    return JobResult.ok(f"{expired} points expired for {len(owners)} owners checked")


def campaign_openings(sessions: sessionmaker[Session], now: datetime) -> JobResult:
    """Queue the opening notices of every wave whose start has come (sent by the outbox at the
    provider's rate); resumes a wave a crash interrupted at its next chunk."""
    queued = campaign_opening.open_due(sessions, now)
    return JobResult.ok(f"{queued} opening notices queued")


def next_campaign_opening(session: Session) -> datetime | None:
    """The next wave of opening notices to start (a campaign's reveal)."""
    return campaign_opening.next_opening(session)


def kept_windows(sessions: sessionmaker[Session], now: datetime) -> JobResult:
    """Measure how often delivery windows of each kind were kept, from the delivered orders."""
    with sessions.begin() as session:
        measured = calibration.recompute(session=session, now=now)
    delivered = sum(k.total for k in measured.values())
    return JobResult.ok(f"{len(measured)} kinds measured from {delivered} deliveries")

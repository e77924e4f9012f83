"""Points: credited on delivery through the outbox, idempotent, capped, audited, never negative."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from builders.accounts import owner
from builders.ordering import deliver, locked_order
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.errors import Conflict, PolicyViolation
from carloop.handlers import all_handlers
from carloop.loyalty import ledger, service
from carloop.loyalty.handlers import EVENT_HANDLERS
from carloop.loyalty.models import ContributionEvent
from carloop.loyalty.rules import EARN_RULES, EarnReason
from carloop.outbox.service import dispatch

STAFF = Principal(role=Role.HQ_OPS, staff_id=7, display_name="ops")


def test_a_delivered_car_credits_the_owner_once_through_the_outbox(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        buyer = owner(session)
    deliver(session_factory, locked_order(session_factory, buyer))
    dispatch(session_factory, all_handlers())
    dispatch(session_factory, EVENT_HANDLERS)  # nothing pending: no second credit
    with session_factory.begin() as session:
        on_order_delivered = EVENT_HANDLERS["order.delivered"][0]
        payload = {"order_id": 1, "customer_id": buyer, "number": "x", "model": "su7"}
        on_order_delivered(session, payload)  # a handler re-run after a crash credits nothing more
        assert service.balance(session=session, customer_id=buyer) == EARN_RULES[EarnReason.DELIVERY].points
        assert ledger.check(session=session).ok


def test_a_referral_credits_the_referrer_when_the_referee_locks(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        referrer, referee = owner(session, "13800138001"), owner(session, "13800138002")
        service.record_referral(session=session, referrer_id=referrer, referee_id=referee)
    locked_order(session_factory, referee)
    dispatch(session_factory, all_handlers())
    with session_factory.begin() as session:
        assert (
            service.balance(session=session, customer_id=referrer) == EARN_RULES[EarnReason.REFERRAL].points
        )
        assert service.balance(session=session, customer_id=referee) == 0


def test_self_referral_and_a_second_referrer_are_refused(session: Session) -> None:
    a, b, c = owner(session, "13800138001"), owner(session, "13800138002"), owner(session, "13800138003")
    with pytest.raises(PolicyViolation):
        service.record_referral(session=session, referrer_id=a, referee_id=a)
    service.record_referral(session=session, referrer_id=a, referee_id=b)
    with pytest.raises(Conflict):
        service.record_referral(session=session, referrer_id=c, referee_id=b)


def test_daily_check_in_pays_once_per_china_day(session: Session) -> None:
    buyer = owner(session)
    morning = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
    assert service.daily_checkin(session=session, customer_id=buyer, now=morning) is not None
    service.daily_checkin(session=session, customer_id=buyer, now=morning + timedelta(hours=3))
    assert service.balance(session=session, customer_id=buyer) == 5
    service.daily_checkin(
        session=session, customer_id=buyer, now=morning + timedelta(hours=16)
    )  # next local day
    assert service.balance(session=session, customer_id=buyer) == 10


def test_daily_caps_stop_awards_and_contribution_alike(session: Session) -> None:
    buyer = owner(session)
    now = datetime(2026, 3, 1, 2, tzinfo=UTC)
    cap = EARN_RULES[EarnReason.HELPFUL_POST].daily_cap
    awarded = [
        service.award_points(
            session=session, customer_id=buyer, reason=EarnReason.HELPFUL_POST, key=f"p{i}", now=now
        )
        for i in range(cap + 3)
    ]
    assert sum(1 for a in awarded if a is not None) == cap
    assert (
        service.balance(session=session, customer_id=buyer)
        == cap * EARN_RULES[EarnReason.HELPFUL_POST].points
    )
    assert service.contribution_score(session=session, customer_id=buyer) == cap * 5


def test_the_contribution_score_is_not_spendable(session: Session) -> None:
    buyer = owner(session)
    service.award_points(session=session, customer_id=buyer, reason=EarnReason.EVENT_CHECKIN, key="e1")
    assert service.contribution_score(session=session, customer_id=buyer) == 10
    with pytest.raises(PolicyViolation):
        service.spend_points(session=session, customer_id=buyer, points=101, key="k")
    assert session.scalars(select(ContributionEvent)).one().score == 10


def test_compensation_needs_a_reason_and_is_audited(session: Session) -> None:
    buyer = owner(session)
    with pytest.raises(PolicyViolation):
        service.grant_compensation(
            session=session, principal=STAFF, customer_id=buyer, points=100, reason=" ", key="a"
        )
    service.grant_compensation(
        session=session,
        principal=STAFF,
        customer_id=buyer,
        points=800,
        reason="OTA 2.1 shipped unannounced",
        key="ota21",
    )
    service.grant_compensation(
        session=session,
        principal=STAFF,
        customer_id=buyer,
        points=800,
        reason="OTA 2.1 shipped unannounced",
        key="ota21",
    )
    assert service.balance(session=session, customer_id=buyer) == 800
    [entry] = audit.list_entries(session=session, action="points.compensate")
    assert entry.actor == "staff:7" and entry.detail["points"] == 800


def test_points_expire_oldest_first_and_spending_protects_them(session: Session) -> None:
    buyer = owner(session)
    earned_2023 = datetime(2023, 6, 1, tzinfo=UTC)
    service.award_points(
        session=session, customer_id=buyer, reason=EarnReason.EVENT_CHECKIN, key="old", now=earned_2023
    )
    service.award_points(
        session=session,
        customer_id=buyer,
        reason=EarnReason.EVENT_CHECKIN,
        key="new",
        now=datetime(2025, 6, 1, tzinfo=UTC),
    )
    service.spend_points(session=session, customer_id=buyer, points=30, key="mug")
    assert (
        service.expire_points(session=session, customer_id=buyer, now=datetime(2025, 12, 30, tzinfo=UTC)) == 0
    )
    assert (
        service.expire_points(session=session, customer_id=buyer, now=datetime(2026, 1, 2, tzinfo=UTC)) == 70
    )
    assert (
        service.expire_points(session=session, customer_id=buyer, now=datetime(2026, 1, 3, tzinfo=UTC)) == 0
    )
    assert service.balance(session=session, customer_id=buyer) == 100
    assert ledger.check(session=session).ok


def test_concurrent_redemptions_never_overdraw(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        buyer = owner(session)
        service.grant_compensation(
            session=session, principal=STAFF, customer_id=buyer, points=1000, reason="r", key="seed"
        )
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def redeem(i: int) -> None:
        start.wait()
        try:
            with session_factory.begin() as session:
                service.spend_points(session=session, customer_id=buyer, points=300, key=f"r{i}")
            outcomes.append("ok")
        except PolicyViolation:
            outcomes.append("short")

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 3 and outcomes.count("short") == 5
    with session_factory.begin() as session:
        assert service.balance(session=session, customer_id=buyer) == 100
        report = ledger.check(session=session)
        assert report.ok, report

"""The dashboard's delivery-accuracy and points-economy tables, from production's and loyalty's tables."""

from __future__ import annotations

from datetime import UTC, date, datetime

from builders.accounts import owner
from builders.ordering import deliver, locked_order
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Principal, Role
from carloop.analytics import service
from carloop.handlers import all_handlers
from carloop.loyalty import ledger, rules
from carloop.loyalty import service as points
from carloop.loyalty.models import PointsEntry
from carloop.ordering.models import Order, OrderEvent
from carloop.outbox.service import dispatch
from carloop.production.models import Slot

OPS = Principal(role=Role.HQ_OPS, staff_id=1, display_name="ops")


def _delivered(
    factory: sessionmaker[Session],
    customer_id: int,
    *,
    locked: datetime,
    delivered: datetime,
    first_latest: date,
) -> int:
    order_id = locked_order(factory, customer_id)
    dispatch(factory, all_handlers())  # production allocates the order and records its first promise
    deliver(factory, order_id)
    with factory.begin() as s:
        s.execute(update(Order).where(Order.id == order_id).values(locked_at=locked))
        s.execute(
            update(OrderEvent)
            .where(OrderEvent.order_id == order_id, OrderEvent.to_status == "delivered")
            .values(at=delivered)
        )
        s.execute(update(Slot).where(Slot.order_id == order_id).values(first_latest=first_latest))
    return order_id


def test_delivery_accuracy_counts_kept_and_broken_first_promises_per_china_week(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as s:
        buyer = owner(s)
    # The week of Monday 2026-03-02 (China): one on its first promise, one late.
    _delivered(
        session_factory, buyer, locked=datetime(2026, 1, 5, 2, tzinfo=UTC),
        delivered=datetime(2026, 3, 2, 2, tzinfo=UTC), first_latest=date(2026, 3, 6),
    )  # fmt: skip
    _delivered(
        session_factory, buyer, locked=datetime(2026, 1, 1, 2, tzinfo=UTC),
        delivered=datetime(2026, 3, 4, 2, tzinfo=UTC), first_latest=date(2026, 3, 1),
    )  # fmt: skip
    # Sunday 2026-03-08 16:30 UTC is Monday 03-09 00:30 in China: the next week.
    _delivered(
        session_factory, buyer, locked=datetime(2026, 2, 7, 16, 30, tzinfo=UTC),
        delivered=datetime(2026, 3, 8, 16, 30, tzinfo=UTC), first_latest=date(2026, 3, 9),
    )  # fmt: skip
    with session_factory() as s:
        rows = service.delivery_accuracy(session=s, model=None, date_from=None, date_to=None)
        assert rows == [
            [date(2026, 3, 2), 2, 1, 1, 0.5, 59.0, 61.4, None],  # 56 and 62 days from lock
            [date(2026, 3, 9), 1, 1, 0, 1.0, 29.0, 29.0, None],  # no share stated with them
        ]
        later = service.delivery_accuracy(session=s, model=None, date_from=date(2026, 3, 9), date_to=None)
        assert [r[0] for r in later] == [date(2026, 3, 9)]
        assert service.delivery_accuracy(session=s, model="yu7", date_from=None, date_to=None) == []


def _at(factory: sessionmaker[Session], entry_id: int, moment: datetime) -> None:
    with factory.begin() as s:
        s.execute(update(PointsEntry).where(PointsEntry.id == entry_id).values(created_at=moment))


def test_points_economy_issued_redeemed_expired_and_outstanding_per_china_day(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as s:
        cid = owner(s)
        grant = points.grant_compensation(
            session=s, principal=OPS, customer_id=cid, points=1000, reason="late", key="k1"
        ).id
        spend = points.spend_points(session=s, customer_id=cid, points=300, key="cart").id
        back = points.return_points(session=s, customer_id=cid, points=100, key="cart").id
        lapse = ledger.post(
            session=s, key="expire:test", kind="expire", customer_id=cid, points=-200,
            lines=rules.expired(cid, 200),
        ).id  # fmt: skip
    _at(session_factory, grant, datetime(2026, 3, 1, 15, 0, tzinfo=UTC))  # 03-01 23:00 China
    _at(session_factory, spend, datetime(2026, 3, 1, 16, 30, tzinfo=UTC))  # 03-02 00:30 China
    _at(session_factory, back, datetime(2026, 3, 2, 3, 0, tzinfo=UTC))  # 03-02
    _at(session_factory, lapse, datetime(2026, 3, 5, 3, 0, tzinfo=UTC))  # 03-05
    with session_factory() as s:
        every = service.points_economy(session=s, date_from=None, date_to=None)
        assert every == [
            [date(2026, 3, 1), 1000, 0, 0, 1000],
            [date(2026, 3, 2), 0, 200, 0, 800],
            [date(2026, 3, 5), 0, 0, 200, 600],
        ]
        # A later range opens with what was outstanding before it.
        assert service.points_economy(session=s, date_from=date(2026, 3, 3), date_to=None) == [
            [date(2026, 3, 5), 0, 0, 200, 600]
        ]
        assert service.points_economy(session=s, date_from=None, date_to=date(2026, 3, 1)) == [
            [date(2026, 3, 1), 1000, 0, 0, 1000]
        ]

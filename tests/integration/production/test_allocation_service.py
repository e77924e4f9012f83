"""Locked orders get build weeks and promised windows; cancellations pull others in; cuts push and notify."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.catalog.schemas import ConfigurationIn
from carloop.errors import PolicyViolation
from carloop.notices.models import Notice
from carloop.ordering import service as ordering
from carloop.ordering.rules import OrderStatus
from carloop.production import eta, rules, service
from carloop.production.models import PromiseChange, Run, Slot

from .conftest import cancel, locked_order, run_events, tiny_plan, use_plan


def _slots(factory: sessionmaker[Session]) -> dict[str, Slot]:
    with factory() as session:
        return {s.number: s for s in session.scalars(select(Slot))}


def test_a_locked_order_gets_a_build_week_a_window_and_a_notice(
    session_factory: sessionmaker[Session],
) -> None:
    use_plan(session_factory, tiny_plan(weekly=5))
    number = locked_order(session_factory)
    run_events(session_factory)
    slot = _slots(session_factory)[number]
    week0 = rules.week_of(service.today())
    assert slot.planned_week == week0 and slot.promised_week == week0
    assert slot.first_latest == slot.promised_latest and slot.promised_earliest is not None
    assert slot.promised_earliest <= slot.promised_latest
    with session_factory() as session:
        order = ordering.load(session=session, number=number)
        assert order.status is OrderStatus.SCHEDULED
        notices = list(session.scalars(select(Notice).where(Notice.order_id == order.id)))
        # the deposit's capture notice ("money") came before; the lock adds exactly one window notice
        assert [n.kind for n in notices if n.kind != "money"] == ["window"]
        assert session.scalar(select(Run).order_by(Run.id.desc())) is not None


def test_handling_the_lock_twice_changes_nothing(session_factory: sessionmaker[Session]) -> None:
    use_plan(session_factory, tiny_plan(weekly=5))
    number = locked_order(session_factory)
    run_events(session_factory)
    with session_factory.begin() as session:
        service.enqueue(session=session, number=number)
    with session_factory() as session:
        assert len(list(session.scalars(select(Slot)))) == 1
        assert len(list(session.scalars(select(Notice).where(Notice.kind == "window")))) == 1


def test_orders_fill_weeks_in_lock_order(session_factory: sessionmaker[Session]) -> None:
    use_plan(session_factory, tiny_plan(weekly=1))
    numbers = [locked_order(session_factory, phone=f"1380013800{i}") for i in range(3)]
    run_events(session_factory)
    slots = _slots(session_factory)
    week0 = rules.week_of(service.today())
    assert [slots[n].planned_week for n in numbers] == [week0, week0 + 1, week0 + 2]


def test_a_cancellation_pulls_the_next_order_in_and_never_pushes_anyone_later(
    session_factory: sessionmaker[Session],
) -> None:
    use_plan(session_factory, tiny_plan(weekly=1))
    numbers = [locked_order(session_factory, phone=f"1380013800{i}") for i in range(3)]
    run_events(session_factory)
    before = {n: s.planned_week for n, s in _slots(session_factory).items()}
    cancel(session_factory, numbers[0])
    run_events(session_factory)
    after = _slots(session_factory)
    assert not after[numbers[0]].active
    assert after[numbers[1]].planned_week == before[numbers[0]]
    assert after[numbers[2]].planned_week == before[numbers[1]]
    with session_factory() as session:
        changes = list(session.scalars(select(PromiseChange)))
    assert changes and not any(c.later for c in changes)
    # The buyers moved up read why without learning whose order it was.
    assert {c.reason for c in changes} == {service.QUEUE_CHANGED}
    assert not [c.reason for c in changes if numbers[0] in c.reason]


def test_a_capacity_cut_moves_orders_later_with_the_reason_and_tells_the_buyers(
    session_factory: sessionmaker[Session],
) -> None:
    use_plan(session_factory, tiny_plan(weekly=1))
    numbers = [locked_order(session_factory, phone=f"1380013800{i}") for i in range(2)]
    run_events(session_factory)
    monday = rules.week_start(rules.week_of(service.today()))
    stop = {
        "target": "l1",
        "start": monday.isoformat(),
        "weeks": 1,
        "remaining": 0.0,
        "reason": "Line 1 stop",
    }
    use_plan(session_factory, tiny_plan(weekly=1, outages=[stop]), reason="line stop")
    slots = _slots(session_factory)
    week0 = rules.week_of(service.today())
    assert [slots[n].planned_week for n in numbers] == [week0 + 1, week0 + 2]
    with session_factory() as session:
        later = list(session.scalars(select(PromiseChange).where(PromiseChange.later.is_(True))))
        kinds = [n.kind for n in session.scalars(select(Notice).order_by(Notice.id))]
    assert len(later) == 2 and all(c.reason == "Line 1 stop" for c in later)
    assert kinds.count("window_later") == 2
    assert slots[numbers[0]].first_latest is not None
    assert slots[numbers[0]].promised_latest == slots[numbers[0]].first_latest + timedelta(weeks=1)


def test_a_quote_counts_the_queue_ahead(session_factory: sessionmaker[Session]) -> None:
    use_plan(session_factory, tiny_plan(weekly=1))
    for i in range(2):
        locked_order(session_factory, phone=f"1380013800{i}")
    run_events(session_factory)
    with session_factory.begin() as session:
        quote = eta.eta(session=session, config=ConfigurationIn(model="su7", trim="pro"))
    week0 = rules.week_of(service.today())
    assert quote.queue_ahead == 2
    assert quote.window.build_week_start == rules.week_start(week0 + 2)
    assert quote.window.weeks_min is not None and quote.window.weeks_max is not None


def test_building_an_order_assigns_a_unique_valid_vin(session_factory: sessionmaker[Session]) -> None:
    use_plan(session_factory, tiny_plan(weekly=5))
    numbers = [locked_order(session_factory, phone=f"1380013800{i}") for i in range(2)]
    run_events(session_factory)
    vins = []
    with session_factory.begin() as session:
        for number in numbers:
            for stage in (rules.Stage.IN_PRODUCTION, rules.Stage.BUILT):
                service.advance_stage(session=session, number=number, stage=stage, actor="staff:1")
            order = ordering.load(session=session, number=number)
            tracking = eta.tracking(session=session, order=order)
            assert tracking.vin is not None
            vins.append(tracking.vin)
            assert [s.at is not None for s in tracking.stages][:3] == [True, True, True]
    assert len(set(vins)) == 2 and all(rules.is_valid_vin(v) for v in vins)
    assert all(v.startswith("LT1") and v[10] == "T" for v in vins)


def test_a_post_lock_change_is_only_previewed_within_24_hours_of_locking(
    session_factory: sessionmaker[Session],
) -> None:
    use_plan(session_factory, tiny_plan(weekly=1))
    for i in range(2):
        locked_order(session_factory, phone=f"1380013800{i}")
    number = locked_order(session_factory, phone="13800138009")
    run_events(session_factory)
    with session_factory.begin() as session:
        order = ordering.load(session=session, number=number)
        assert order.locked_at is not None
        preview = eta.reconfigure_preview(
            session=session, order=order, config=ConfigurationIn(model="su7", trim="pro")
        )
        assert preview.proposed.queue_ahead == 2  # behind the two before it: its own place is given up
        late = order.locked_at + timedelta(hours=25)
        with pytest.raises(PolicyViolation):
            eta.reconfigure_preview(
                session=session, order=order, config=ConfigurationIn(model="su7", trim="pro"), now=late
            )

"""Honest confidence, end to end: delivered orders are measured by the daily job, and the next windows
state the share of their kind that was kept, with the sample size (or that the sample is too small)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.clock import utcnow
from carloop.jobs import tasks
from carloop.jobs.registry import by_name
from carloop.ordering import service as ordering
from carloop.production import calibration, eta, rules, service, summary
from carloop.production.models import KeptRate, Slot

from .conftest import locked_order, run_events, tiny_plan, use_plan

PHONES = ("13800138001", "13800138002", "13800138003")


def _deliver_all(factory: sessionmaker[Session], kept: list[bool]) -> list[str]:
    """Lock, build and hand over one order per entry; its first window was kept or missed."""
    numbers = [locked_order(factory, PHONES[i % len(PHONES)]) for i in range(len(kept))]
    run_events(factory)
    day = service.today()
    with factory.begin() as session:
        for number, hit in zip(numbers, kept, strict=True):
            order = ordering.load(session=session, number=number)
            slot = session.scalar(select(Slot).where(Slot.order_id == order.id))
            assert slot is not None and slot.promised_at is not None
            # A window of four weeks ahead that ended on the delivery day, or the day before it.
            slot.first_earliest = day - timedelta(days=10)
            slot.first_latest = day if hit else day - timedelta(days=1)
            slot.stated = 0.5
            slot.promised_at = utcnow() - timedelta(weeks=4)
            for stage in list(rules.Stage)[1:]:
                service.advance_stage(session=session, number=number, stage=stage, actor="test")
    return numbers


def test_the_daily_job_measures_kept_windows_per_model_and_band(
    session_factory: sessionmaker[Session],
) -> None:
    use_plan(session_factory, tiny_plan(weekly=50))
    _deliver_all(session_factory, [True, True, False])
    job = by_name("kept_windows")
    assert job is not None and job.every == timedelta(days=1)
    result = tasks.kept_windows(session_factory, utcnow())
    assert "3 deliveries" in result.detail
    with session_factory() as session:
        rows = session.scalars(select(KeptRate)).all()
        assert [(r.model, r.band, r.kept, r.total) for r in rows] == [("su7", 1, 2, 3)]
        assert calibration.rates(session=session)[("su7", 1)].share is None  # 3 is too few to state
    tasks.kept_windows(session_factory, utcnow())  # recomputed, not added up
    with session_factory() as session:
        assert [r.total for r in session.scalars(select(KeptRate))] == [3]
        (week,) = summary.delivery_accuracy(session=session)  # HQ's calibration: stated vs kept
        assert (week.delivered, week.kept, week.stated_share) == (3, 2, 0.5)


def test_with_enough_deliveries_the_share_kept_is_stated(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "MIN_SAMPLE", 3)
    use_plan(session_factory, tiny_plan(weekly=50))
    _deliver_all(session_factory, [True, True, True, False])
    tasks.kept_windows(session_factory, utcnow())
    with session_factory() as session:
        rates = calibration.rates(session=session)
        assert rates[("su7", 1)].share == 0.75
        assert rules.stated(rates, "su7", 5) == rules.Kept(3, 4)


def test_a_new_order_records_the_share_stated_with_its_first_window(
    session_factory: sessionmaker[Session],
) -> None:
    use_plan(session_factory, tiny_plan(weekly=50))
    with session_factory.begin() as session:  # as if measured: every kind of SU7 window, 9 of 10 kept
        for kind in range(5):
            session.add(KeptRate(model="su7", band=kind, kept=27, total=30))
    number = locked_order(session_factory, PHONES[0])
    run_events(session_factory)
    with session_factory() as session:
        order = ordering.load(session=session, number=number)
        slot = session.scalar(select(Slot).where(Slot.order_id == order.id))
        assert slot is not None and slot.stated == 0.9
        tracked = eta.tracking(session=session, order=order)
        assert tracked.window is not None and tracked.window.confidence == 0.9 and tracked.window.sample == 30

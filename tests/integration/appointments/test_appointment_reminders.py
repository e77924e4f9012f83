"""Reminders go out on a schedule: the outbox worker runs the reminder round, and so does
``carloop notices send``; each appointment is reminded once and each notice sent once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from carloop.appointments import reminders
from carloop.appointments import service as appointments
from carloop.appointments.schemas import AppointmentKind
from carloop.cli.main import app as cli
from carloop.clock import utcnow
from carloop.jobs import registry
from carloop.jobs.registry import Job
from carloop.jobs.rules import JobResult
from carloop.jobs.runner import JobRunner
from carloop.network import notices
from carloop.network import service as network
from carloop.network.models import CustomerNotice

from ..network.conftest import buyer, seed


def book_soon(factory: sessionmaker[Session]) -> int:
    """A test drive tomorrow at SH-ST-01 (within the reminder window of a day from now + 1 h)."""
    with factory.begin() as s:
        seed(s)
        store = network.get_store_by_code(session=s, code="SH-ST-01")
        network.set_demo_cars(session=s, store=store, cars={"su7": 1})
        me = buyer(s)
        day = (utcnow() + timedelta(days=1)).date()
        start = appointments.available_slots(
            session=s, store_code="SH-ST-01", kind=AppointmentKind.TEST_DRIVE, day=day, model="su7"
        )[0][0]
        booked = appointments.book(
            session=s,
            customer_id=me.customer_id or 0,
            kind=AppointmentKind.TEST_DRIVE,
            store_code="SH-ST-01",
            starts_at=start,
            model="su7",
        )
        return booked.id


def test_a_round_queues_due_reminders_and_sends_them_once(session_factory: sessionmaker[Session]) -> None:
    appointment_id = book_soon(session_factory)
    with session_factory() as s:
        start = appointments.get_for(session=s, principal=_admin(), appointment_id=appointment_id).starts_at
    sender = notices.MemoryNoticeSender()
    early = reminders.send_due(factory=session_factory, sender=sender, now=start - timedelta(days=2))
    assert (early.queued, early.sent, sender.sent) == (0, 0, [])
    due = reminders.send_due(factory=session_factory, sender=sender, now=start - timedelta(hours=3))
    assert (due.queued, due.sent) == (1, 1) and "Reminder" in sender.sent[0][1]
    again = reminders.send_due(factory=session_factory, sender=sender, now=start - timedelta(hours=2))
    assert (again.queued, again.sent, len(sender.sent)) == (0, 0, 1)


class _Failing:
    def send(self, *, phone: str, subject: str, body: str) -> None:
        raise ConnectionError("the SMS gateway is down")


def test_a_failed_send_is_retried_next_round(session_factory: sessionmaker[Session]) -> None:
    appointment_id = book_soon(session_factory)
    with session_factory() as s:
        start = appointments.get_for(session=s, principal=_admin(), appointment_id=appointment_id).starts_at
    with pytest.raises(ConnectionError):
        reminders.send_due(factory=session_factory, sender=_Failing(), now=start - timedelta(hours=3))
    sender = notices.MemoryNoticeSender()
    retried = reminders.send_due(factory=session_factory, sender=sender, now=start - timedelta(hours=3))
    assert (retried.queued, retried.sent) == (1, 1)


def test_the_job_runner_runs_the_reminder_round_once(session_factory: sessionmaker[Session]) -> None:
    assert registry.by_name("reminders") is not None
    appointment_id = book_soon(session_factory)
    with session_factory() as s:
        start = appointments.get_for(session=s, principal=_admin(), appointment_id=appointment_id).starts_at
    sender = notices.MemoryNoticeSender()
    rounds: list[reminders.Round] = []
    ran = threading.Event()

    def job(factory: sessionmaker[Session], now: datetime) -> JobResult:  # the real round, 3 h before
        rounds.append(reminders.send_due(factory=factory, sender=sender, now=start - timedelta(hours=3)))
        ran.set()
        return JobResult.ok()

    runner = JobRunner(session_factory, 0.01, jobs=[Job("reminders", timedelta(hours=1), job, "test")])
    runner.start()
    try:
        assert ran.wait(10)
        for _ in range(5):  # more rounds: the hourly job is not due again
            assert runner.run_once() == []
    finally:
        runner.stop()
    assert [(r.queued, r.sent) for r in rounds] == [(1, 1)] and len(sender.sent) == 1


def test_carloop_notices_send_runs_one_round(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    book_soon(session_factory)
    with session_factory.begin() as s:
        network.queue_notice(
            session=s, customer_id=buyer(s).customer_id or 0, key="hello", subject="Hi", body=""
        )
    result = CliRunner().invoke(cli, ["notices", "send", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert "notices sent: " in result.output and "notices sent: 0" not in result.output
    with session_factory() as s:
        assert s.scalar(select(CustomerNotice.sent_at).where(CustomerNotice.key == "hello")) is not None


def _admin():  # type: ignore[no-untyped-def]
    from carloop.accounts.schemas import Principal, Role

    return Principal(role=Role.ADMIN, staff_id=1, display_name="admin")

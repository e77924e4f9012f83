"""Reminders on a schedule: the job runner runs the reminder round, and so does ``carloop notices
send``; each appointment is reminded once, as a notice in the one notices inbox whose outside channels
(e-mail here: a reminder is no SMS) go through the outbox."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta

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
from carloop.network import service as network
from carloop.notices import service as notices
from carloop.notices.models import Notice
from carloop.outbox.models import OutboxEvent

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


def _reminders(factory: sessionmaker[Session]) -> list[Notice]:
    with factory() as s:
        return list(s.scalars(select(Notice).where(Notice.kind == "reminder")))


def test_a_round_queues_due_reminders_once(session_factory: sessionmaker[Session]) -> None:
    appointment_id = book_soon(session_factory)
    with session_factory() as s:
        start = appointments.get_for(session=s, principal=_admin(), appointment_id=appointment_id).starts_at
    assert reminders.send_due(factory=session_factory, now=start - timedelta(days=2)).queued == 0
    assert reminders.send_due(factory=session_factory, now=start - timedelta(hours=3)).queued == 1
    assert reminders.send_due(factory=session_factory, now=start - timedelta(hours=2)).queued == 0
    [reminder] = _reminders(session_factory)
    assert reminder.subject_en.startswith("Reminder: test drive at ") and "试驾" in reminder.subject_zh
    # the store's address in each language: no English road name in the Chinese body, and back
    assert reminder.body_zh.startswith("地址：上海") and not re.search("[A-Za-z]", reminder.body_zh)
    assert reminder.body_en.startswith("Address: ") and "Road, Shanghai" in reminder.body_en
    assert not re.search("[\u4e00-\u9fff]", reminder.body_en)


def test_a_reminder_goes_in_app_and_by_e_mail_through_the_outbox_not_by_sms(
    session_factory: sessionmaker[Session],
) -> None:
    appointment_id = book_soon(session_factory)
    with session_factory.begin() as s:
        start = appointments.get_for(session=s, principal=_admin(), appointment_id=appointment_id).starts_at
        me = buyer(s)
        notices.set_preferences(
            session=s, customer_id=me.customer_id or 0, locale="en", email="a@example.com",
            email_on=True, sms_on=True,
        )  # fmt: skip
    reminders.send_due(factory=session_factory, now=start - timedelta(hours=3))
    [reminder] = _reminders(session_factory)
    with session_factory() as s:
        channels = {d.channel: d.status for d in notices.deliveries(session=s, notice_id=reminder.id)}
        due = s.scalars(select(OutboxEvent).where(OutboxEvent.name == "notice.due")).all()
    assert channels == {"inapp": "sent", "email": "pending"}
    assert [e.payload for e in due] == [{"notice_id": reminder.id, "channel": "email"}]


def test_the_job_runner_runs_the_reminder_round_once(session_factory: sessionmaker[Session]) -> None:
    assert registry.by_name("reminders") is not None
    appointment_id = book_soon(session_factory)
    with session_factory() as s:
        start = appointments.get_for(session=s, principal=_admin(), appointment_id=appointment_id).starts_at
    rounds: list[reminders.Round] = []
    ran = threading.Event()

    def job(factory: sessionmaker[Session], now: datetime) -> JobResult:  # the real round, 3 h before
        rounds.append(reminders.send_due(factory=factory, now=start - timedelta(hours=3)))
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
    assert [r.queued for r in rounds] == [1] and len(_reminders(session_factory)) == 1


def test_carloop_notices_send_runs_one_round(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    appointment_id = book_soon(session_factory)
    with session_factory.begin() as s:  # the appointment falls within a day: move it 3 h ahead
        appointment = appointments.get_for(session=s, principal=_admin(), appointment_id=appointment_id)
        shift = appointment.starts_at - (utcnow() + timedelta(hours=3))
        appointment.starts_at -= shift
        appointment.ends_at -= shift
    result = CliRunner().invoke(cli, ["notices", "send", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert "reminders queued: 1" in result.output
    assert len(_reminders(session_factory)) == 1


def _admin():  # type: ignore[no-untyped-def]
    from carloop.accounts.schemas import Principal, Role

    return Principal(role=Role.ADMIN, staff_id=1, display_name="admin")

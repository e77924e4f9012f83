"""Scheduled jobs run once across processes: a lease taken by one conditional UPDATE (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from carloop.cli.main import app as cli
from carloop.clock import as_utc, utcnow
from carloop.jobs import registry, service
from carloop.jobs.models import ScheduledJob
from carloop.jobs.registry import Job
from carloop.jobs.rules import JobOutcome, JobResult
from carloop.jobs.runner import JobRunner
from carloop.ordering import service as ordering
from carloop.ordering.models import Order, OrderEvent
from carloop.ordering.rules import OrderStatus
from carloop.payments.providers.simulator import SimulatorProvider

from ..ordering.conftest import paid_order


def _reserved_order_ending_in(factory: sessionmaker[Session], seconds: float) -> tuple[str, datetime]:
    """A paid, reserved order whose refundable window ends ``seconds`` from now."""
    with factory.begin() as session:
        from carloop.accounts import service as accounts

        buyer = accounts.get_or_create_customer(session=session, phone="13800138123").id
        order = paid_order(session, SimulatorProvider(secret="test-secret"), buyer)
        assert order.status is OrderStatus.RESERVED
        end = utcnow() + timedelta(seconds=seconds)
        session.execute(update(Order).where(Order.id == order.id).values(refundable_until=end))
        return order.number, end


def test_only_one_of_two_processes_takes_a_due_lease(session_factory: sessionmaker[Session]) -> None:
    now = utcnow()
    with session_factory.begin() as s:
        service.ensure_rows(session=s, names=["probe"])
        service.ensure_rows(session=s, names=["probe"])  # a second process inserting again changes nothing
    with session_factory.begin() as s:
        assert service.claim(session=s, name="probe", owner="a", now=now)
    with session_factory.begin() as s:
        assert not service.claim(session=s, name="probe", owner="b", now=now)
    # a lease whose owner died lapses, and another process takes the job over
    with session_factory.begin() as s:
        assert service.claim(session=s, name="probe", owner="b", now=now + service.DEFAULT_LEASE)
    with session_factory.begin() as s:  # the dead owner's late finish does not clobber the new owner
        result = JobResult.ok()
        assert not service.finish(session=s, name="probe", owner="a", now=now, result=result, next_run_at=now)
        assert service.finish(
            session=s, name="probe", owner="b", now=now, result=result, next_run_at=now + timedelta(hours=1)
        )
    with session_factory.begin() as s:  # not due until its next run
        assert not service.claim(session=s, name="probe", owner="c", now=now + timedelta(minutes=59))
        assert service.claim(session=s, name="probe", owner="c", now=now + timedelta(minutes=61))


def test_a_job_runs_once_while_many_runners_race(session_factory: sessionmaker[Session]) -> None:
    runs: list[str] = []

    def slow(sessions: sessionmaker[Session], now: datetime) -> JobResult:
        runs.append(threading.current_thread().name)
        time.sleep(0.05)  # long enough for the other runners to try while it holds the lease
        return JobResult.ok("done")

    jobs = [Job("once_an_hour", timedelta(hours=1), slow, "test")]
    runners = [JobRunner(session_factory, 0.01, jobs=jobs) for _ in range(4)]
    for runner in runners:
        runner.start()
    try:
        deadline = time.monotonic() + 20
        while not runs and time.monotonic() < deadline:
            time.sleep(0.01)
        for runner in runners:  # several more rounds each: nobody runs it again
            runner.run_once()
    finally:
        for runner in runners:
            runner.stop()
    assert len(runs) == 1
    with session_factory() as s:
        row = s.get(ScheduledJob, "once_an_hour")
        assert row is not None and row.runs == 1 and row.last_outcome == "ok" and row.owner == ""


def test_the_server_runners_lock_an_order_at_its_windows_end_exactly_once(
    session_factory: sessionmaker[Session],
) -> None:
    number, end = _reserved_order_ending_in(session_factory, 1.0)
    auto_lock = registry.by_name("auto_lock")
    assert auto_lock is not None
    runners = [JobRunner(session_factory, 0.05, jobs=[auto_lock]) for _ in range(2)]  # two processes' runners
    for runner in runners:
        runner.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with session_factory() as s:
                if s.scalar(select(Order.status).where(Order.number == number)) is OrderStatus.LOCKED:
                    break
            time.sleep(0.05)
    finally:
        for runner in runners:
            runner.stop()
    with session_factory() as s:
        order = ordering.load(session=s, number=number)
        assert order.status is OrderStatus.LOCKED
        assert order.locked_at is not None and as_utc(order.locked_at) == end
        locks = [e for e in order.events if e.to_status == OrderStatus.LOCKED]
        assert len(locks) == 1 and locks[0].actor == "system" and as_utc(locks[0].at) == end


def test_a_late_sweep_stamps_the_windows_end_not_the_sweep_time(
    session_factory: sessionmaker[Session],
) -> None:
    number, end = _reserved_order_ending_in(session_factory, 60)
    with session_factory.begin() as s:
        assert ordering.next_auto_lock_at(session=s) == end
        assert ordering.auto_lock_due(session=s, now=end + timedelta(hours=5)) == 1
    with session_factory() as s:
        order = ordering.load(session=s, number=number)
        assert order.locked_at == end and ordering.next_auto_lock_at(session=s) is None
        assert s.scalar(select(OrderEvent.at).where(OrderEvent.to_status == "locked")) == end


def test_a_failing_ledger_check_is_an_alert_and_the_cli_lists_it(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    with session_factory.begin() as s:
        from carloop.accounts import service as accounts

        buyer = accounts.get_or_create_customer(session=s, phone="13800138124").id
        paid_order(s, SimulatorProvider(secret="test-secret"), buyer)
    result = CliRunner().invoke(cli, ["jobs", "run", "ledger_check", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    with session_factory.begin() as s:
        s.execute(
            text("UPDATE postings SET amount_fen = amount_fen + 1 WHERE id = (SELECT MIN(id) FROM postings)")
        )
    result = CliRunner().invoke(cli, ["jobs", "run", "ledger_check", "--database-url", database_url])
    assert result.exit_code == 1 and "failed" in result.output
    with session_factory() as s:
        alerts = service.alerts(session=s)
        assert [a.name for a in alerts] == ["ledger_check"]
        assert alerts[0].outcome == JobOutcome.FAILED and "problems" in alerts[0].detail
    listing = CliRunner().invoke(
        cli, ["jobs", "list", "--database-url", database_url], env={"COLUMNS": "250"}
    )
    assert listing.exit_code == 0, listing.output
    for name in ("auto_lock", "offer_expiry", "reminders", "ledger_check", "points_expiry"):
        assert name in listing.output
    assert "never run" in listing.output and "failed" in listing.output
    as_json = CliRunner().invoke(cli, ["jobs", "list", "--json", "--database-url", database_url])
    rows = {row["name"]: row for row in json.loads(as_json.output)}
    assert rows["ledger_check"]["outcome"] == "failed" and rows["ledger_check"]["runs"] == 2
    assert rows["ledger_check"]["next_run_at"] is not None and rows["auto_lock"]["outcome"] is None


def test_a_job_that_raises_is_kept_as_an_error_and_retried(session_factory: sessionmaker[Session]) -> None:
    calls: list[int] = []

    def broken(sessions: sessionmaker[Session], now: datetime) -> JobResult:
        calls.append(1)
        raise RuntimeError("the database went away")

    job = Job("broken", timedelta(seconds=0), broken, "test")
    first = service.run_job(session_factory, job, owner="a")
    assert first is not None and first.result.outcome is JobOutcome.ERROR
    assert "went away" in first.result.detail
    assert service.run_job(session_factory, job, owner="b") is not None  # due again, lease released
    assert len(calls) == 2

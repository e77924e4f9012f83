"""When a job runs next, and who may take its lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from carloop.jobs import rules

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def test_a_job_runs_again_after_its_interval() -> None:
    assert rules.next_run(NOW, timedelta(minutes=5)) == NOW + timedelta(minutes=5)


def test_a_promise_falling_due_sooner_brings_the_next_run_forward() -> None:
    window_end = NOW + timedelta(seconds=20)
    assert rules.next_run(NOW, timedelta(minutes=5), window_end) == window_end


def test_a_later_promise_does_not_delay_the_regular_run() -> None:
    assert rules.next_run(NOW, timedelta(minutes=5), NOW + timedelta(days=7)) == NOW + timedelta(minutes=5)


def test_a_promise_already_due_runs_at_the_next_tick_not_in_the_past() -> None:
    assert rules.next_run(NOW, timedelta(minutes=5), NOW - timedelta(hours=1)) == NOW


def test_due_and_lease_checks() -> None:
    assert rules.is_due(None, NOW) and rules.is_due(NOW, NOW)
    assert not rules.is_due(NOW + timedelta(seconds=1), NOW)
    assert rules.lease_free(None, NOW) and rules.lease_free(NOW - timedelta(seconds=1), NOW)
    assert not rules.lease_free(NOW + timedelta(seconds=1), NOW)

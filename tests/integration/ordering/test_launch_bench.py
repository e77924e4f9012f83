"""Small launch days through the real server: two timed surges, a SIGKILL in the middle of either,
nothing acknowledged lost, nothing doubled, every paid place gap-free, the ledger balanced."""

from __future__ import annotations

import pytest

from carloop.bench.launch import run_crash, run_launch


def test_a_crash_mid_reservation_surge_loses_no_acknowledged_order(database_url: str) -> None:
    url = None if database_url.startswith("sqlite") else database_url
    report = run_crash(orders=400, concurrency=16, database_url=url, workers=1, kill_at=0.4, show=False)
    assert report["killed"] and report["killed_during"] == "reservations"
    assert report["acknowledged_before_kill"] > 0
    assert report["lost"] == 0 and report["lost_acknowledged_before_kill"] == 0
    assert report["duplicates"] == 0 and report["unanswered"] == 0
    assert report["ledger_balanced"] and report["position_gaps"] == 0 and report["oversold"] == 0
    assert report["paid_orders"] == report["stored"]  # every reservation answered was then paid


def test_a_crash_mid_notification_surge_loses_no_acknowledged_capture(database_url: str) -> None:
    url = None if database_url.startswith("sqlite") else database_url
    report = run_crash(
        orders=300,
        concurrency=16,
        database_url=url,
        workers=1,
        kill_at=0.4,
        show=False,
        provider="alipay",
        kill_during="notifications",
    )
    assert report["killed"] and report["killed_during"] == "notifications"
    assert report["lost"] == 0 and report["lost_notifications"] == 0 and report["duplicates"] == 0
    assert report["notifications_acknowledged"] == report["paid_orders"] == report["stored"]
    assert report["ledger_balanced"] and report["position_gaps"] == 0 and report["oversold"] == 0


def test_a_tiny_launch_bench_with_alipay_reports_every_figure(
    database_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    url = None if database_url.startswith("sqlite") else database_url
    report = run_launch(
        orders=300,
        concurrency=8,
        database_url=url,
        workers=1,
        compare_orders=50,
        hello_requests=100,
        show=False,
        provider="alipay",
    )
    for field in (
        "reservations_per_s",
        "notifications_per_s",
        "paid_orders_per_s",
        "reservation_p50_ms",
        "reservation_p99_ms",
        "notification_p50_ms",
        "notification_p99_ms",
        "hello_per_s",
        "orders_to_hello_ratio",
        "group_vs_per_request_commit_ratio",
    ):
        assert report[field] > 0, field
    assert report["provider"] == "alipay"
    assert report["acknowledged"] == report["stored"] == report["paid_orders"] > 0
    assert report["notification_statuses"] == {"200": report["stored"]}
    assert (report["lost"], report["duplicates"], report["oversold"], report["position_gaps"]) == (0, 0, 0, 0)
    assert (report["lapsed"], report["lost_notifications"]) == (0, 0)
    assert report["ledger_balanced"]
    assert report["statuses"].get("422", 0) >= 1  # the invalid configurations were refused
    # The server's reconciliation job ran at start-up against the bench's gateway stand-in, and the
    # served processes (whose output the test captures) logged no failed Alipay call.
    assert report["provider_stand_in_calls"].get("alipay.data.dataservice.bill.downloadurl.query", 0) >= 1
    served = capfd.readouterr()
    assert "Alipay call failed" not in served.out + served.err

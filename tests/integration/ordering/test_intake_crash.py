"""A small launch surge with a SIGKILL in the middle: nothing acknowledged is lost, nothing doubled."""

from __future__ import annotations

from carloop.bench.launch import run_crash, run_launch


def test_a_crash_mid_surge_loses_no_acknowledged_order(database_url: str) -> None:
    url = None if database_url.startswith("sqlite") else database_url
    report = run_crash(orders=400, concurrency=16, database_url=url, workers=1, kill_at=0.4, show=False)
    assert report["killed"]
    assert report["acknowledged_before_kill"] > 0
    assert report["lost"] == 0 and report["lost_acknowledged_before_kill"] == 0
    assert report["duplicates"] == 0 and report["unanswered"] == 0
    assert report["ledger_balanced"] and report["position_gaps"] == 0 and report["oversold"] == 0


def test_a_tiny_launch_bench_reports_every_figure(database_url: str) -> None:
    url = None if database_url.startswith("sqlite") else database_url
    report = run_launch(
        orders=300,
        concurrency=8,
        database_url=url,
        workers=1,
        compare_orders=50,
        hello_requests=100,
        show=False,
    )
    for field in (
        "orders_per_s",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "hello_per_s",
        "group_vs_per_request_commit_ratio",
    ):
        assert report[field] > 0
    assert report["acknowledged"] == report["stored"] > 0
    assert (report["lost"], report["duplicates"], report["oversold"], report["position_gaps"]) == (0, 0, 0, 0)
    assert report["ledger_balanced"]
    assert report["statuses"].get("422", 0) >= 1  # the invalid configurations were refused

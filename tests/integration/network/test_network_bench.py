"""The booking bench on a tiny workload: a real server, real races, an honest audit."""

from __future__ import annotations

from carloop.bench import booking as bench_booking


def test_the_booking_bench_books_each_slot_once_and_audits_the_table() -> None:
    report = bench_booking.run(
        attempts=40, slots=8, concurrency=6, customers=4, workers=1, database_url=None, seed=1, show=False
    )
    assert report["attempts"] == 40 and report["slots"] == 8
    assert report["booked"] == 8 and report["db_booked_rows"] == 8
    assert report["double_booked"] == 0
    assert report["rejected_409"] == 32 and report["errors"] == 0
    assert report["p99_ms"] >= report["p50_ms"] > 0

"""A small ``carloop simulate campaign``: registrants, a reveal, opening notices through the outbox and
the real SMS adapter, a surge through the intake (on PostgreSQL; SQLite's one writer runs the
notices alone), every registrant who asked told exactly once by the provider's count."""

from __future__ import annotations

from carloop.bench.campaign_sim import run_campaign


def test_a_small_simulated_campaign_tells_every_registrant_exactly_once(database_url: str) -> None:
    postgres = not database_url.startswith("sqlite")
    report = run_campaign(
        registrants=400,
        orders=120 if postgres else 0,
        concurrency=8,
        database_url=database_url if postgres else None,
        workers=1,
        rate=500,
        dispatchers=1,
        show=False,
    )
    assert report["registrants"] == 400 and report["asked"] == 380  # one in twenty did not ask
    assert report["notices_sent"] == report["sms_received"] == report["phones_told"] == 380
    assert report["told_twice_or_more"] == 0 and report["notices_still_queued"] == 0
    assert report["every_registrant_told_exactly_once"]
    assert report["notices_per_s"] > 0 and report["time_to_last_told_s"] > 0
    if postgres:
        assert report["surge"]["requests"] >= 120 and report["surge"]["ok"] > 0
        paid_or_reserved = sum(row["reservations"] for row in report["attribution"])
        assert paid_or_reserved > 0 and {row["channel"] for row in report["attribution"]} == {"direct"}

"""The operations simulation states, for every first window, the share of its kind kept so far, and
reports how far that stated share was from the share then kept (``calibration_error``, in points)."""

from __future__ import annotations

from carloop.bench.operations import simulate
from carloop.production import rules


def test_the_simulation_reports_the_calibration_of_the_shares_it_stated() -> None:
    report = simulate(weeks=3, history=4, backlog_weeks=2, seed=5)
    result = report.as_dict(None)
    assert result["windows_with_stated_share"] == len(report.stated) > 0
    expected = rules.calibration_error(report.stated)
    assert expected is not None and result["calibration_error"] == round(expected, 2)
    # Every stated share is one measured on earlier deliveries of the same kind: a share in [0, 1].
    assert all(0 <= said <= 1 for _, _, said, _ in report.stated)


def test_without_history_the_first_windows_state_no_share() -> None:
    report = simulate(weeks=1, history=0, backlog_weeks=1, seed=5)
    assert report.stated == []  # nothing was delivered before: nothing to state
    assert report.as_dict(None)["calibration_error"] is None

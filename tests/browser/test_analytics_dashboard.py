"""The Done-when story of issue 8 in a real browser: after the demo seeding (`carloop demo`), a staff
member opens the dashboard in Chinese and in English, sees the launch curve, funnel, demographics,
channels, regions and market structure drawn by the vendored Chart.js, filters it, and exports a table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from rich.console import Console

pytestmark = pytest.mark.browser

SECTIONS = ("launch-curve", "funnel", "demographics", "channels", "regions", "market")
HEADINGS = {
    "zh-CN": ("上市曲线", "转化漏斗", "示例数据"),
    "en": ("Launch curve", "Conversion funnel", "Illustrative sample, not real sales data."),
}


@pytest.fixture(scope="module")
def ops_password(live_server: Any) -> str:
    """Seed the live server's database exactly as `carloop demo` does, with a smaller launch."""
    from carloop.cli.demo import seed

    logins = seed(live_server.sessions, live_server.settings, Console(quiet=True), launch_orders=3_000)
    return next(secret for _who, username, secret in logins if username == "ops")


def _sign_in(page: Page, lang: str, password: str) -> None:
    page.goto(f"/staff/login?lang={lang}&next=/console/analytics")
    page.get_by_test_id("username").fill("ops")
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("sign-in").click()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_staff_see_filter_and_export_the_dashboard_after_the_demo(
    page: Page, ops_password: str, lang: str, tmp_path: Path
) -> None:
    _sign_in(page, lang, ops_password)
    page.goto(f"/console/analytics?lang={lang}")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    for testid in SECTIONS:
        expect(page.get_by_test_id(testid)).to_be_visible()
    for text in HEADINGS[lang]:
        expect(page.get_by_text(text, exact=False).filter(visible=True).first).to_be_visible()
    # Chart.js is served by the app and draws the charts (canvases are hidden until it does).
    for chart in ("launch_curve", "channel", "province", "market_shares"):
        expect(page.locator(f'canvas[data-chart="{chart}"]')).to_be_visible()
    everything = int(page.get_by_test_id("total-reservations").get_attribute("data-value") or "0")
    assert everything >= 3_000

    # Filter to one channel with the form.
    page.get_by_test_id("analytics-filters").locator('select[name="channel"]').select_option("app")
    page.get_by_test_id("analytics-filters").locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"channel=app"))
    narrowed = int(page.get_by_test_id("total-reservations").get_attribute("data-value") or "0")
    assert 0 < narrowed < everything
    channel_rows = page.get_by_test_id("channels").locator("tr")
    expect(channel_rows).to_have_count(1)

    # Export the funnel behind the chart, with the filter applied.
    page.get_by_test_id("export-menu").locator("summary").click()  # one export menu for every figure
    with page.expect_download() as info:
        page.get_by_test_id("export-funnel-csv").click()
    download = info.value
    assert download.suggested_filename == "carloop-funnel.csv"
    saved = tmp_path / "funnel.csv"
    download.save_as(saved)
    lines = saved.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "stage,events"
    reserved = dict(line.split(",") for line in lines[1:])["reservation_started"]
    assert int(reserved) == narrowed

"""On a 390×844 phone the storefront fits the screen and the configurator keeps total and Reserve in view."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args() -> dict[str, Any]:
    return {"locale": "zh-CN", "timezone_id": "Asia/Shanghai", "viewport": {"width": 390, "height": 844}}


def _overflow(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("path", ["/", "/models", "/models/su7", "/configure/su7", "/login", "/staff/login"])
def test_storefront_pages_fit_a_phone(page: Page, path: str) -> None:
    page.goto(path)
    assert _overflow(page) <= 0


def test_configurator_keeps_total_and_reserve_in_view_on_a_phone(page: Page) -> None:
    page.goto("/configure/su7?lang=en")
    bar = page.get_by_test_id("buybar")
    reserve = page.get_by_test_id("reserve-bar")
    expect(reserve).to_be_in_viewport()
    expect(page.get_by_test_id("reserve")).not_to_be_in_viewport()  # the summary is below the options
    before = bar.locator("[data-total-mirror]").inner_text()
    page.get_by_test_id("trim-max").check()
    expect(bar.locator("[data-total-mirror]")).not_to_have_text(before)
    expect(bar.locator("[data-total-mirror]")).to_have_text(page.get_by_test_id("total").inner_text())
    page.mouse.wheel(0, 1500)
    expect(reserve).to_be_in_viewport()
    expect(reserve).to_be_enabled()
    reserve.click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fcheckout"))

"""The configurator's drawn car follows paint, wheels and roof: live with JavaScript, on submit without."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from carloop.catalog.looks import PAINTS

pytestmark = pytest.mark.browser


def _paint(page: Page) -> str:
    return str(
        page.get_by_test_id("car").evaluate("svg => getComputedStyle(svg).getPropertyValue('--paint')")
    )


def _fill(page: Page) -> str:
    return str(page.locator('[data-testid="car"] .car-paint').evaluate("p => getComputedStyle(p).fill"))


def test_the_car_changes_colour_and_wheels_as_options_change(page: Page) -> None:
    page.goto("/configure/su7?lang=zh-CN&trim=max")
    car = page.get_by_test_id("car")
    assert _paint(page).strip() == PAINTS["paint-aqua-blue"]
    before = _fill(page)
    page.get_by_test_id("option-paint-verdant-green").check()
    expect(car).to_have_attribute("style", f"--paint: {PAINTS['paint-verdant-green']}; --caliper: #5a5f64;")
    assert _fill(page) != before
    page.get_by_test_id("option-wheel-21-forged").check()
    expect(car).to_have_attribute("data-wheel", "21f")
    page.get_by_test_id("option-acc-roof-rack").check()
    expect(car).to_have_attribute("data-roof", "rack")


def test_without_javascript_the_submitted_configuration_is_drawn(browser: Any, live_server: Any) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/configure/su7?lang=en&trim=max")
        assert PAINTS["paint-verdant-green"] not in (page.get_by_test_id("car").get_attribute("style") or "")
        page.get_by_test_id("option-paint-verdant-green").check()
        page.get_by_test_id("option-wheel-21-forged").check()
        page.get_by_test_id("reprice").click()
        car = page.get_by_test_id("car")
        assert PAINTS["paint-verdant-green"] in (car.get_attribute("style") or "")
        assert car.get_attribute("data-wheel") == "21f"
    finally:
        context.close()

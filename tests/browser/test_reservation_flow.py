"""A buyer configures a car, signs in with a code, reserves, pays with the simulator and refunds.

Once in each language, in the real browser against the real server.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"reserved": "Reserved", "refunded": "Refunded", "refundable": "Refundable until"},
    "zh-CN": {"reserved": "已预订", "refunded": "已退款", "refundable": "可退款"},
}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_configure_reserve_pay_and_refund(browser: Any, live_server: Any, lang: str) -> None:
    context = browser.new_context(base_url=live_server.url, locale=lang)
    page: Page = context.new_page()
    try:
        page.goto(f"/configure/su7?lang={lang}")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        page.get_by_test_id("trim-pro").check()
        page.get_by_test_id("reserve").click()

        # Not signed in yet: the phone and one-time code, then back to the checkout.
        phone = "13800138001" if lang == "en" else "13800138002"
        page.get_by_test_id("phone").fill(phone)
        page.get_by_test_id("send-code").click()
        code = page.get_by_test_id("dev-code").inner_text()
        page.get_by_test_id("code").fill(re.sub(r"\D", "", code)[-6:])
        page.get_by_test_id("sign-in").click()

        expect(page).to_have_url(re.compile(r"/checkout\?"))
        expect(page.get_by_test_id("deposit-terms")).to_be_visible()
        page.get_by_test_id("place-order").click()

        expect(page).to_have_url(re.compile(r"/pay/simulator/"))
        expect(page.get_by_test_id("sim-amount")).to_contain_text("5,000")
        page.get_by_test_id("sim-pay").click()

        expect(page).to_have_url(re.compile(r"/orders/[A-Z0-9-]+$"))
        expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "reserved")
        expect(page.get_by_test_id("order-status")).to_contain_text(WORDS[lang]["reserved"])
        expect(page.get_by_test_id("refundable")).to_contain_text(WORDS[lang]["refundable"])
        order_url = page.url
        page.go_back()  # back to the cashier after paying: no live Pay button
        expect(page.get_by_test_id("sim-paid")).to_be_visible()
        expect(page.get_by_test_id("sim-pay")).to_have_count(0)
        page.goto(order_url)
        page.get_by_test_id("refund").click()

        expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "refunded")
        expect(page.get_by_test_id("order-status")).to_contain_text(WORDS[lang]["refunded"])
        expect(page.get_by_test_id("refund-panel")).to_be_visible()
        expect(page.get_by_test_id("delivery-card")).to_have_count(0)
    finally:
        context.close()

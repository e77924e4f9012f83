"""A buyer on a phone, in Chinese, chooses English notices and an e-mail address, then reads an
ETA-change notice in English in the inbox."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.notices import service as notices

pytestmark = pytest.mark.browser
PHONE = "13800138021"


@pytest.fixture
def browser_context_args() -> dict[str, Any]:
    return {
        "locale": "zh-CN",
        "timezone_id": "Asia/Shanghai",
        "viewport": {"width": 390, "height": 844},
    }


def _notice(session: Session) -> None:
    customer = accounts.get_or_create_customer(session=session, phone=PHONE)
    notices.notify(
        session=session,
        customer_id=customer.id,
        kind="window_later",
        key="browser:eta:1",
        source="production",
        body=(
            "Expected delivery between 2027-03-01 and 2027-03-07.",
            "预计交付时间：2027-03-01 至 2027-03-07。",
        ),
        order_number="CL-2027-0042",
    )


def test_notice_settings_on_a_phone_in_chinese(page: Page, live_server: Any) -> None:
    page.goto("/login?next=/me/notice-settings")
    page.get_by_test_id("phone").fill(PHONE)
    page.get_by_test_id("send-code").click()
    code = page.get_by_test_id("dev-code").inner_text()
    page.get_by_test_id("code").fill(re.sub(r"\D", "", code)[-6:])
    page.get_by_test_id("sign-in").click()
    expect(page).to_have_url(re.compile(r"/me/notice-settings"))
    expect(page.locator("h1")).to_have_text("通知方式")
    page.get_by_test_id("notice-email").fill("no at sign")
    page.get_by_test_id("notice-settings-save").click()  # the browser itself refuses (type=email)...
    expect(page.get_by_test_id("notice-settings-saved")).to_have_count(0)  # ...the server too (API test)
    page.get_by_test_id("notice-locale").select_option("en")
    page.get_by_test_id("notice-email").fill("buyer@example.com")
    page.get_by_test_id("notice-settings-save").click()
    expect(page.get_by_test_id("notice-settings-saved")).to_have_text("已保存。")
    live_server.seed(_notice)
    page.get_by_test_id("nav-notices").click()
    expect(page.get_by_test_id("notice-window_later")).to_contain_text("Expected delivery between 2027-03-01")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone

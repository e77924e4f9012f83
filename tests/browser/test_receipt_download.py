"""On a 390×844 phone in zh-CN, a buyer who paid and refunded a deposit sees both numbered receipts
on the order page and downloads each as a PDF that names its number (the page fits the screen)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

pytestmark = pytest.mark.browser


def test_buyer_downloads_the_receipts_of_a_paid_and_refunded_deposit(browser: Any, live_server: Any) -> None:
    context = browser.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 390, "height": 844},
        accept_downloads=True,
    )
    page: Page = context.new_page()
    try:
        page.goto("/configure/su7?lang=zh-CN")
        page.get_by_test_id("trim-pro").check()
        page.get_by_test_id("reserve-bar").click()
        page.get_by_test_id("phone").fill("13800138077")
        page.get_by_test_id("send-code").click()
        page.get_by_test_id("code").fill(re.sub(r"\D", "", page.get_by_test_id("dev-code").inner_text())[-6:])
        page.get_by_test_id("sign-in").click()
        expect(page).to_have_url(re.compile(r"/checkout\?"))
        page.get_by_test_id("place-order").click()
        page.get_by_test_id("sim-pay").click()
        expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "reserved")
        page.get_by_test_id("refund").click()
        expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "refunded")

        documents = page.get_by_test_id("documents")
        expect(documents).to_contain_text("收据与单据")
        rows = documents.get_by_test_id("receipt-row")
        expect(rows).to_have_count(2)
        assert int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth")) <= 0
        titles = []
        for i in range(2):
            number = re.search(r"R\d{4}-\d{6}", rows.nth(i).inner_text())
            assert number is not None
            with page.expect_download() as info:
                rows.nth(i).get_by_test_id("receipt-pdf").click()
            download = info.value
            assert download.suggested_filename == f"{number.group(0)}.pdf"
            path = download.path()
            assert path is not None
            data = path.read_bytes()
            assert data.startswith(b"%PDF-")
            text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
            assert number.group(0) in text and "¥5,000.00" in text
            titles.append(text.split()[0])
        assert titles == ["收据", "退款凭证"]
    finally:
        context.close()

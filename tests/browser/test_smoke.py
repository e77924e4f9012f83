"""Smoke tests: the real server answers a real browser, and the language switcher works with or without JS."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text
from sqlalchemy.orm import Session

pytestmark = pytest.mark.browser

START = "/login?lang=en"


def _open(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None, f"no response for {path}"
    assert response.status < 500, f"{path} answered {response.status}"


def test_health_check_answers_the_browser(page: Page) -> None:
    response = page.goto("/healthz")
    assert response is not None
    assert response.ok
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_language_switcher_changes_the_page_language(
    browser: Any, live_server: Any, javascript: bool
) -> None:
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", java_script_enabled=javascript)
    try:
        page = context.new_page()
        html = page.locator("html")
        _open(page, START)
        expect(html).to_have_attribute("lang", "en")

        page.get_by_test_id("lang-zh").click()
        expect(html).to_have_attribute("lang", "zh-CN")

        page.get_by_test_id("lang-en").click()
        expect(html).to_have_attribute("lang", "en")
    finally:
        context.close()


def test_chosen_language_is_remembered_on_the_next_page(page: Page) -> None:
    _open(page, START)
    _open(page, "/login")  # no ?lang=: the cookie wins over the browser's zh-CN Accept-Language
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_browser_language_is_used_when_nothing_was_chosen(page: Page) -> None:
    _open(page, "/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_seed_hook_writes_to_the_live_servers_database(live_server: Any) -> None:
    def fill(session: Session) -> int:
        return int(session.execute(text("SELECT 41 + 1")).scalar_one())

    assert live_server.seed(fill) == 42
    assert live_server.settings.database_url.startswith("sqlite:///")

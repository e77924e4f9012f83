"""Issue 18's Done-when walk in a real browser, in zh-CN: HQ creates a store with hours and a demo car;
a buyer books a test drive there; the buyer changes their locked order's configuration within 24 hours
and sees the new delivery window before confirming; HQ moves the order through production stages from
the pages; support refunds a second buyer's deposit on their behalf. Every page walked is checked for
untranslated English.

(The change comes before the stages: a change is only possible while the order waits to be built.)"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "a-long-staff-password"
BUYER, SECOND = "13800138071", "13800138072"
# Words that may stay Latin on a Chinese page: names, codes and units.
ALLOWED = {"carloop", "km", "nappa", "vin", "alcantara", "xiaomi", "pilot", "sound"}  # brand names


def _no_english(page: Page) -> None:
    root = "main" if page.locator("main").count() else "body"
    # <code> holds machine identifiers (audit action names), shown as such on purpose
    text = page.evaluate(
        "root => { const c = document.querySelector(root).cloneNode(true);"
        " c.querySelectorAll('code').forEach(e => e.remove()); return c.innerText; }",
        root,
    )
    text = re.sub(r"\b[A-Z0-9]{2,6}(?:-[A-Z0-9]+)+\b", " ", text)  # order numbers and store codes
    words = {w for w in re.findall(r"\b[A-Za-z]{4,}\b", text) if w.lower() not in ALLOWED}
    assert not words, f"{page.url}: untranslated English {sorted(words)[:12]}"


@pytest.fixture(scope="module")
def orders(live_server: Any) -> tuple[str, str]:
    from carloop.accounts import service as accounts
    from carloop.accounts.schemas import Role
    from carloop.catalog.schemas import ConfigurationIn
    from carloop.network import service as network
    from carloop.network.schemas import StoreKind
    from carloop.ordering import rules
    from carloop.ordering import service as ordering
    from carloop.payments.providers.base import NotificationStatus
    from carloop.production import rules as production_rules
    from carloop.production import service as production

    provider = live_server.app.state.payment_provider

    def paid(session: Any, phone: str) -> Any:
        customer = accounts.get_or_create_customer(session=session, phone=phone)
        order = ordering.reserve(
            session=session, customer_id=customer.id, config=ConfigurationIn(model="su7", trim="pro")
        )
        payment = ordering.start_deposit_payment(session=session, provider=provider, order=order)
        form = provider.signed_notification(
            trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
        )
        ordering.handle_notification(session=session, provider=provider, form=form)
        return order

    def fill(session: Any) -> tuple[str, str]:
        # HQ's first plan: without a saved plan there is no delivery window to show or to change
        plan = production_rules.sample_plan(production.today())
        production.save_plan(session=session, plan=plan, reason="首个计划", actor="test")
        network.create_store(
            session=session, code="SH-DC-01", kind=StoreKind.DELIVERY_CENTRE,
            name_en="Shanghai Delivery Centre", name_zh="上海交付中心", city="Shanghai", province="Shanghai",
        )  # fmt: skip
        for username in ("hq", "support"):
            accounts.create_staff(
                session=session, actor=None, username=username, display_name=username, password=PASSWORD,
                role=Role.HQ_OPS, store_id=None,
            )  # fmt: skip
        first = paid(session, BUYER)
        confirmation = rules.LockConfirmation(True, first.deposit_fen, ordering.configuration_summary(first))
        ordering.lock(session=session, order=first, confirmation=confirmation, actor="buyer")
        production.enqueue(session=session, number=first.number)
        second = paid(session, SECOND)
        return first.number, second.number

    numbers: tuple[str, str] = live_server.seed(fill)
    return numbers


def _buyer(page: Page, phone: str, next_url: str) -> None:
    page.context.clear_cookies()
    page.goto(f"/login?next={next_url}")
    page.get_by_test_id("phone").fill(phone)
    page.get_by_test_id("send-code").click()
    code = page.get_by_test_id("dev-code").inner_text()
    page.get_by_test_id("code").fill(re.sub(r"\D", "", code)[-6:])
    page.get_by_test_id("sign-in").click()


def _staff(page: Page, username: str, next_url: str) -> None:
    page.context.clear_cookies()
    page.goto(f"/staff/login?next={next_url}")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("sign-in").click()


def test_issue_18_walk_in_chinese(page: Page, orders: tuple[str, str]) -> None:
    number, second = orders
    # HQ creates a store with hours and a demo car
    _staff(page, "hq", "/staff/stores/new")
    expect(page.get_by_test_id("outlet-form")).to_be_visible()
    _no_english(page)
    page.get_by_test_id("outlet-code").fill("SH-ST-18")
    page.get_by_test_id("outlet-kind").select_option("store")
    page.get_by_test_id("outlet-hub").select_option("SH-DC-01")
    page.get_by_test_id("outlet-name-zh").fill("上海静安门店")
    page.get_by_test_id("outlet-name-en").fill("Shanghai Jing'an Store")
    page.get_by_test_id("outlet-city").fill("上海")
    page.get_by_test_id("outlet-province").fill("上海")
    page.get_by_test_id("outlet-address").fill("南京西路 1601 号")
    page.get_by_test_id("outlet-lat").fill("31.2243")
    page.get_by_test_id("outlet-lon").fill("121.4460")
    page.get_by_test_id("outlet-opens").fill("09:00")
    page.get_by_test_id("outlet-closes").fill("21:00")
    page.get_by_test_id("outlet-demo-su7").fill("1")
    page.get_by_test_id("outlet-save").click()
    expect(page.get_by_test_id("outlet-saved")).to_be_visible()

    # a buyer books a test drive there
    _buyer(page, BUYER, "/stores/SH-ST-18?kind=test_drive&model=su7")
    expect(page.get_by_test_id("store-hours")).to_contain_text("09:00-21:00")
    _no_english(page)
    page.get_by_test_id("book-slot").first.click()
    expect(page.get_by_test_id("booking-confirmed")).to_be_visible()
    _no_english(page)

    # within 24 hours of locking, the buyer changes the configuration and sees the new window first
    page.goto(f"/orders/{number}")
    _no_english(page)
    page.get_by_test_id("change-start").click()
    expect(page.get_by_test_id("change-mode")).to_be_visible()
    page.get_by_test_id("trim-max").check()
    page.get_by_test_id("reprice").click()
    page.get_by_test_id("reserve").click()
    expect(page.get_by_test_id("change-window")).to_be_visible()
    expect(page.get_by_test_id("change-position")).to_contain_text("#")
    _no_english(page)
    page.get_by_test_id("change-ack").check()
    page.get_by_test_id("change-confirm").click()
    expect(page).to_have_url(re.compile(rf"/orders/{number}$"))
    expect(page.get_by_test_id("timeline")).to_contain_text("锁单后变更了配置")
    _no_english(page)

    # HQ moves the order through production stages from the pages
    _staff(page, "hq", f"/staff/orders/{number}")
    for stage in ("in_production", "built", "in_transit"):
        page.get_by_test_id("stage-select").select_option(stage)
        page.get_by_test_id("stage").get_by_role("button").click()
        expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", stage)
    _no_english(page)

    # support refunds a second buyer's deposit on their behalf
    _staff(page, "support", f"/staff/orders/{second}")
    page.get_by_test_id("reason").fill("客户来电要求退还定金")
    page.get_by_test_id("on-behalf").get_by_role("button").click()
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "refunded")
    _no_english(page)

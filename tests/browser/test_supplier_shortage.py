"""Issue 17's Done-when story in a real browser, on a phone-sized window: a supplier signs in, sees its
forecast and confirms a week 30 % short; HQ's plan view shows the cap and the moved orders; the buyer
whose order moved sees the new window and the reason on the order page and has a notice; another
supplier sees none of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "supplier-pass-2026"
STAFF_PASSWORD = "a-long-staff-password"
REASON_EN = "Supply shortage: 101 kWh battery pack"
REASON_ZH = "零部件供应短缺：101 kWh 电池包"
PHONE_LAST = "13900139009"


@pytest.fixture(scope="module")
def story(live_server: Any) -> dict[str, Any]:
    """A plan of 10 SU7 Max a week, ten locked Max orders this week, two suppliers, an HQ user."""
    from carloop.accounts import service as accounts
    from carloop.accounts.schemas import Role
    from carloop.catalog.schemas import ConfigurationIn
    from carloop.ordering import rules as order_rules
    from carloop.ordering import service as ordering
    from carloop.payments.providers.base import NotificationStatus
    from carloop.production import rules as production_rules
    from carloop.production import service as production
    from carloop.production.schemas import PlanData
    from carloop.supply import service as supply

    provider = live_server.app.state.payment_provider
    plan = PlanData.model_validate(
        {
            "plant": "Test plant", "plant_code": "T", "wmi": "LT1", "frozen_weeks": 0,
            "lines": [{"code": "l1", "name": "Line 1", "models": ["su7"], "weekly_capacity": 10}],
            "caps": [{"code": "battery-101", "kind": "part", "name": "101 kWh battery pack", "weekly": 10,
                      "trims": ["max", "founders", "ultra"]}],
        }
    )  # fmt: skip

    def fill(session: Any) -> dict[str, Any]:
        production.save_plan(session=session, plan=plan, reason="test plan", actor="test")
        numbers = []
        for i in range(10):
            buyer = accounts.get_or_create_customer(session=session, phone=f"139001390{i:02d}")
            order = ordering.reserve(
                session=session, customer_id=buyer.id, config=ConfigurationIn(model="su7", trim="max")
            )
            payment = ordering.start_deposit_payment(
                session=session, provider=provider, order=order, base_url=live_server.url
            )
            form = provider.signed_notification(
                trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
            )
            ordering.handle_notification(session=session, provider=provider, form=form)
            summary = ordering.configuration_summary(order)
            ordering.lock(
                session=session, order=order, actor="t",
                confirmation=order_rules.LockConfirmation(True, order.deposit_fen, summary),
            )  # fmt: skip
            production.enqueue(session=session, number=order.number)
            numbers.append(order.number)
        for code, user in (("ningde-cells", "ningde"), ("hesai-optics", "hesai")):
            found = supply.create_supplier(
                session=session, code=code, name_en=f"{code} Ltd", name_zh=f"{code}公司"
            )
            supply.add_user(
                session=session, supplier=found, username=user, display_name=user, password=PASSWORD
            )
        accounts.create_staff(
            session=session, actor=None, username="hq", display_name="HQ", password=STAFF_PASSWORD,
            role=Role.HQ_OPS,
        )  # fmt: skip
        monday = production_rules.week_start(production_rules.week_of(production.today()))
        return {"numbers": numbers, "monday": monday.isoformat()}

    found: dict[str, Any] = live_server.seed(fill)
    return found


@pytest.fixture
def phone(browser: Browser, live_server: Any) -> Iterator[BrowserContext]:
    """A phone-sized zh-CN context."""
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai",
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
    )  # fmt: skip
    context.set_default_timeout(15_000)
    yield context
    context.close()


def staff_sign_in(page: Page, username: str, password: str, target: str) -> None:
    page.goto(f"/staff/login?next={target}")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("sign-in").click()


def no_overflow(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width} px wide on a 390 px phone"


def test_a_short_week_moves_orders_and_everyone_sees_why(
    story: dict[str, Any], phone: BrowserContext, browser: Browser, live_server: Any
) -> None:
    monday = story["monday"]
    row = f"week-battery-101kwh-{monday}"

    supplier = phone.new_page()
    supplier.goto("/supplier/login")
    supplier.get_by_test_id("username").fill("ningde")
    supplier.get_by_test_id("password").fill(PASSWORD)
    supplier.get_by_test_id("sign-in").click()
    expect(supplier).to_have_url(re.compile(r"/supplier$"))
    expect(supplier.get_by_test_id("part-battery-101kwh")).to_contain_text("101 kWh 电池包")
    expect(supplier.get_by_test_id(row).get_by_test_id("firm")).to_have_text("10")
    no_overflow(supplier)
    supplier.get_by_test_id(row).get_by_test_id("quantity").fill("7")
    supplier.get_by_test_id(row).get_by_test_id("confirm").click()
    expect(supplier.get_by_test_id("saved")).to_be_visible()
    expect(supplier.get_by_test_id(row).get_by_test_id("cap")).to_contain_text("7")
    expect(supplier.get_by_test_id(row).get_by_test_id("confirmed")).to_contain_text("7")
    expect(supplier.get_by_test_id(row).get_by_test_id("firm")).to_have_text("7")

    hq = browser.new_context(base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
    staff_sign_in(hq, "hq", STAFF_PASSWORD, "/staff/production")
    expect(hq).to_have_url(re.compile(r"/staff/production$"))
    expect(hq.get_by_test_id("runs")).to_contain_text("ningde-cells")
    expect(hq.get_by_test_id("plan-outages").locator('input[value="battery-101"]')).to_have_count(1)
    moved = story["numbers"][7:]
    for number in moved:
        expect(hq.get_by_test_id("moves")).to_contain_text(number)
    expect(hq.get_by_test_id("moves")).to_contain_text(REASON_ZH)
    hq.get_by_test_id("supply-link").click()
    shortage = hq.get_by_test_id("shortage")
    expect(shortage).to_contain_text("ningde-cells公司")
    expect(shortage.get_by_test_id("confirmed")).to_have_text("7")
    for number in moved:
        expect(shortage.get_by_test_id("shortage-moves")).to_contain_text(number)
    hq.context.close()

    buyer = browser.new_context(base_url=live_server.url, locale="en", timezone_id="Asia/Shanghai").new_page()
    buyer.goto(f"/login?lang=en&next=/orders/{story['numbers'][9]}")
    buyer.get_by_test_id("phone").fill(PHONE_LAST)
    buyer.get_by_test_id("send-code").click()
    code = buyer.get_by_test_id("dev-code").inner_text()
    buyer.get_by_test_id("code").fill(re.sub(r"\D", "", code)[-6:])
    buyer.get_by_test_id("sign-in").click()
    expect(buyer).to_have_url(re.compile(rf"/orders/{story['numbers'][9]}$"))
    expect(buyer.get_by_test_id("window-changes")).to_contain_text(REASON_EN)
    expect(buyer.get_by_test_id("first-window")).to_be_visible()
    buyer.goto("/me/notices")  # notices speak the language the buyer chose for them (Chinese by default)
    expect(buyer.locator("body")).to_contain_text(REASON_ZH)
    buyer.context.close()

    other = browser.new_context(base_url=live_server.url, locale="zh-CN")
    rival = other.new_page()
    staff_sign_in(rival, "hesai", PASSWORD, "/supplier")
    expect(rival).to_have_url(re.compile(r"/supplier$"))
    expect(rival.get_by_test_id("part-lidar")).to_be_visible()
    expect(rival.get_by_test_id("part-battery-101kwh")).to_have_count(0)
    expect(rival.locator("body")).not_to_contain_text("ningde")
    token = rival.locator('input[name="csrf_token"]').first.get_attribute("value") or ""
    answer = rival.request.post(
        "/supplier/confirm",
        form={"part": "battery-101kwh", "week": monday, "quantity": "0", "csrf_token": token},
    )
    assert answer.status == 404
    assert rival.request.get("/staff/supply").status == 403
    other.close()

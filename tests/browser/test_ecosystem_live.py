"""The owner's /ecosystem page follows the car live (server-sent events from /ecosystem/live): when the
car reaches home its card says so without the page reloading, and what the owner was typing stays."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.ecosystem import demo, service
from carloop.ecosystem.models import DeviceKind
from carloop.ecosystem.simulator import PLACES

pytestmark = pytest.mark.browser
PHONE = "13700137000"


def _sign_in(page: Page) -> None:
    page.goto("/login?lang=zh-CN")
    page.get_by_test_id("phone").fill(PHONE)
    page.get_by_test_id("send-code").click()
    code = page.get_by_test_id("dev-code").locator("strong").inner_text()
    page.get_by_test_id("code").fill(code)
    page.get_by_test_id("sign-in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login)"))


def _owner_id(session: Session) -> int:
    customer = accounts.find_customer(session=session, phone=PHONE)
    assert customer is not None
    return customer.id


def test_the_car_arriving_home_shows_without_a_reload(page: Page, live_server: Any) -> None:
    _sign_in(page)
    owner = live_server.seed(_owner_id)
    live_server.seed(lambda session: demo.seed_demo(session=session, customer_id=owner))
    page.goto("/ecosystem?lang=zh-CN")
    where = page.get_by_test_id("car-where")
    expect(where).to_have_text("不在家")
    expect(page.get_by_test_id("devices")).to_have_attribute("data-updates", "1")  # the stream is live
    page.evaluate("window.notReloaded = true")
    page.get_by_label("名称").first.fill("客厅的灯")  # half-typed: must survive the update

    def arrive(session: Session) -> None:
        devices = service.list_devices(session=session, customer_id=owner)
        [car] = [d for d in devices if d.kind is DeviceKind.VEHICLE]
        car.state = {**car.state, "latitude": PLACES["home"][0], "longitude": PLACES["home"][1], "speed": 0}

    live_server.seed(arrive)
    expect(where).to_have_text("世纪公园的家", timeout=10_000)
    assert page.evaluate("window.notReloaded === true")
    expect(page.get_by_label("名称").first).to_have_value("客厅的灯")

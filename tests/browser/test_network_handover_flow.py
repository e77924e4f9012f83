"""Issue 5's Done-when story in a real browser: a buyer finds a nearby store and books a test drive,
later books the delivery slot at the assigned centre once the car has arrived, pays the balance in two
parts (online through the payment simulator, then at the centre's till) and takes the car at the
handover; staff of another store get 404 for the order."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "a-long-staff-password"
VIN = "LSJA24U69PS000042"
PHONE = "13800138077"


@pytest.fixture(scope="module")
def order_number(live_server: Any) -> str:
    """The network, staff at BJ-DC-01 and SH-DC-01, and the buyer's paid order whose car has arrived."""
    from carloop.accounts import service as accounts
    from carloop.accounts.schemas import Role
    from carloop.catalog.schemas import ConfigurationIn
    from carloop.network import service as network
    from carloop.ordering import service as ordering
    from carloop.ordering.rules import OrderStatus
    from carloop.payments.providers.base import NotificationStatus

    provider = live_server.app.state.payment_provider

    def fill(session: Any) -> str:
        network.seed_sample_network(session=session)
        network.set_demo_cars(
            session=session,
            store=network.get_store_by_code(session=session, code="BJ-ST-01"),
            cars={"su7": 1},
        )
        for username, code in (("bjdc", "BJ-DC-01"), ("shdc", "SH-DC-01")):
            accounts.create_staff(
                session=session, actor=None, username=username, display_name=username, password=PASSWORD,
                role=Role.STORE_STAFF, store_id=network.get_store_by_code(session=session, code=code).id,
            )  # fmt: skip
        customer = accounts.get_or_create_customer(session=session, phone=PHONE)
        order = ordering.reserve(
            session=session, customer_id=customer.id, config=ConfigurationIn(model="su7", trim="pro")
        )
        payment = ordering.start_deposit_payment(
            session=session, provider=provider, order=order, base_url=live_server.url
        )
        form = provider.signed_notification(
            trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
        )
        ordering.handle_notification(session=session, provider=provider, form=form)
        network.assign_delivery_centre(session=session, order=order, city="Beijing", actor="test")
        for target in (
            OrderStatus.LOCKED, OrderStatus.SCHEDULED, OrderStatus.IN_PRODUCTION, OrderStatus.BUILT,
            OrderStatus.IN_TRANSIT, OrderStatus.AT_DELIVERY_CENTRE,
        ):  # fmt: skip
            extra = {"vin": VIN} if target is OrderStatus.BUILT else {}
            ordering.advance(
                session=session, order=order, target=target, actor="production", reason="test", **extra
            )
        return order.number

    number: str = live_server.seed(fill)
    return number


def sign_in_buyer(page: Page) -> None:
    page.goto("/login?lang=en&next=/appointments")
    page.get_by_test_id("phone").fill(PHONE)
    page.get_by_test_id("send-code").click()
    code = page.get_by_test_id("dev-code").inner_text()
    page.get_by_test_id("code").fill(re.sub(r"\D", "", code)[-6:])
    page.get_by_test_id("sign-in").click()
    expect(page).to_have_url(re.compile(r"/appointments$"))


def sign_in_staff(page: Page, username: str, next_url: str) -> None:
    page.context.clear_cookies()
    page.goto(f"/staff/login?lang=en&next={next_url}")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("sign-in").click()


def due(page: Page) -> int:
    return int(page.get_by_test_id("balance").first.get_attribute("data-due") or "-1")


def test_test_drive_delivery_two_part_balance_and_handover(page: Page, order_number: str) -> None:
    # a nearby store with the model on display, and a test drive there
    page.goto("/stores?lang=en&city=Beijing&service=test_drive&model=su7")
    page.locator('a[href="/stores/BJ-ST-01"]').first.click()
    expect(page).to_have_url(re.compile(r"/stores/BJ-ST-01"))
    sign_in_buyer(page)
    page.goto("/stores/BJ-ST-01?kind=test_drive&model=su7")
    page.get_by_test_id("book-slot").first.click()
    expect(page).to_have_url(re.compile(r"/appointments\?booked=\d+$"))
    expect(page.get_by_test_id("booking-confirmed")).to_be_visible()
    expect(page.get_by_test_id("appointments")).to_contain_text("Test drive SU7")

    # the car has arrived: book the handover slot at the assigned centre
    arrived = page.get_by_test_id("car-arrived")
    expect(arrived).to_contain_text(order_number)
    arrived.get_by_role("link", name=re.compile("Book the handover")).click()
    expect(page).to_have_url(re.compile(r"/stores/BJ-DC-01\?kind=delivery"))
    page.get_by_test_id("book-slot").first.click()
    expect(page.get_by_test_id("appointments")).to_contain_text(order_number)

    # the first part of the balance online, through the provider's page
    page.goto(f"/orders/{order_number}/balance?lang=en")
    owed = due(page)
    assert owed > 100_000
    page.locator('input[name="amount"]').fill(f"{(owed - 100_000) / 100:.2f}")
    page.get_by_test_id("pay-balance").get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/pay/simulator/"))
    page.get_by_test_id("sim-pay").click()
    page.goto(f"/orders/{order_number}/balance?lang=en")
    assert due(page) == 100_000

    # staff of another store: 404
    sign_in_staff(page, "shdc", f"/staff/orders/{order_number}/handover")
    response = page.goto(f"/staff/orders/{order_number}/handover?lang=en")
    assert response is not None and response.status == 404

    # the centre's staff take the rest at the till and hand the car over (in Chinese)
    sign_in_staff(page, "bjdc", f"/staff/orders/{order_number}/handover")
    page.goto(f"/staff/orders/{order_number}/handover?lang=zh-CN")
    expect(page.get_by_role("heading", name=re.compile("交车检查单"))).to_be_visible()
    till = page.get_by_test_id("till-form")
    till.locator('input[name="amount"]').fill("1000.00")
    till.locator('input[name="reference"]').fill("POS-2026-1")
    till.get_by_role("button").click()
    assert due(page) == 0
    form = page.get_by_test_id("handover-form")
    form.locator('input[name="vin"]').fill(VIN)
    form.locator('input[name="inspection_passed"]').check()
    form.locator('input[name="documents_signed"]').check()
    form.get_by_role("button").click()
    expect(page.get_by_test_id("delivered")).to_be_visible()

"""The Done-when story of issue 16 (the campaign's part) in a real browser: HQ creates a campaign that
reveals in two minutes, with an early-bird perk and two influencer links; before the reveal the
configurator counts down with no price and the order API refuses with a problem saying when orders
open; from the countdown a visitor registers interest with the SMS code (Tencent Cloud's stand-in),
and the registration joins the account at sign-in; at the reveal the page shows the price by itself
and the registrant is told by SMS; a buyer who came through one influencer's link reserves the preset
configuration, sees the perk, pays, and the live view shows the order under that influencer without
a reload."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from stand_ins.sms import SmsStandIn, serve_sms

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.campaigns.models import Campaign
from carloop.campaigns.registration_models import OpeningWave
from carloop.clock import SHANGHAI, utcnow
from carloop.jobs.models import ScheduledJob

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"
BUYER = "+8613800138066"


@pytest.fixture(scope="module")
def sms() -> Iterator[SmsStandIn]:
    """Tencent Cloud SMS, played locally: registration codes and opening notices go through it."""
    with serve_sms("tencent") as standin:
        yield standin


@pytest.fixture(scope="module")
def live_settings(sms: SmsStandIn) -> dict[str, Any]:
    """The live server sends its text messages through the stand-in."""
    return sms.settings()


def _staff(session: Session) -> None:
    accounts.create_staff(
        session=session,
        actor=None,
        username="hq",
        display_name="HQ",
        password=PASSWORD,
        role=Role.HQ_OPS,
        store_id=None,
    )


def _local(moment: Any) -> str:
    return str(moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S"))


def _issue_link(page: Page, source: str) -> str:
    page.get_by_test_id("link-channel").select_option("influencer")
    page.get_by_test_id("link-source").fill(source)
    page.get_by_test_id("link-model").select_option("su7")
    page.get_by_test_id("link-trim").fill("max")
    page.get_by_test_id("link-options").fill("paint-aqua-blue")
    page.get_by_test_id("create-link").click()
    row = page.get_by_test_id("link-row").filter(has_text=source)
    expect(row.locator("svg")).to_be_visible()  # its QR code
    return str(row.get_by_test_id("link-url").inner_text())


def _reveal_in(live_server: Any, seconds: int) -> None:
    def move(session: Session) -> None:
        campaign = session.scalar(select(Campaign))
        assert campaign is not None
        campaign.reveal_at = utcnow() + timedelta(seconds=seconds)
        for wave in session.scalars(select(OpeningWave)):  # the automatic wave starts at the reveal
            wave.starts_at = campaign.reveal_at
        job = session.get(ScheduledJob, "campaign_openings")  # planned for the old reveal
        if job is not None:
            job.next_run_at = campaign.reveal_at

    live_server.seed(move)


def test_hq_creates_a_campaign_and_a_buyer_reserves_through_an_influencers_link(
    browser: Any, live_server: Any, sms: SmsStandIn
) -> None:
    live_server.seed(_staff)
    hq = browser.new_context(base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai")
    buyer = browser.new_context(base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        console = hq.new_page()
        console.goto("/staff/login?lang=zh-CN&next=/console/campaigns")
        console.get_by_test_id("username").fill("hq")
        console.get_by_test_id("password").fill(PASSWORD)
        console.get_by_test_id("sign-in").click()
        expect(console).to_have_url(re.compile(r"/console/campaigns$"))

        now = utcnow()
        console.get_by_test_id("code").fill("su7-night")
        console.get_by_test_id("name-zh").fill("SU7 发布之夜")
        console.get_by_test_id("name-en").fill("SU7 launch night")
        console.get_by_test_id("model-su7").check()
        console.get_by_test_id("reveal-at").fill(_local(now + timedelta(minutes=2)))
        console.get_by_test_id("ends-at").fill(_local(now + timedelta(days=1)))
        console.get_by_test_id("perk-first-paid").check()
        console.get_by_test_id("perk-number").fill("100")
        console.get_by_test_id("perk-title-zh").fill("赠送锻造轮毂")
        console.get_by_test_id("perk-title-en").fill("Free forged wheels")
        console.get_by_test_id("create-campaign").click()
        expect(console).to_have_url(re.compile(r"/console/campaigns/\d+$"))
        campaign_url = console.url
        alice = _issue_link(console, "小美")
        _issue_link(console, "阿杰")

        # Before the reveal: a countdown, no price, no Reserve; the API refuses, saying when.
        shop = buyer.new_page()
        shop.goto(alice.removeprefix(live_server.url))
        expect(shop).to_have_url(re.compile(r"/configure/su7\?trim=max&option=paint-aqua-blue"))
        expect(shop.get_by_test_id("countdown")).to_be_visible()
        expect(shop.get_by_test_id("trim-max")).to_be_checked()
        expect(shop.get_by_test_id("option-paint-aqua-blue")).to_be_checked()
        assert "¥" not in shop.content()
        expect(shop.get_by_test_id("reserve")).to_have_count(0)
        expect(shop.get_by_test_id("perk-offer")).to_contain_text("赠送锻造轮毂")
        configure_url = shop.url

        # From the countdown: register interest, proving the phone with the code the SMS brought.
        shop.get_by_test_id("register-interest").click()
        expect(shop).to_have_url(re.compile(r"/campaigns/su7-night/register$"))
        shop.get_by_test_id("phone").fill("13800138066")
        shop.get_by_test_id("city").fill("上海")
        shop.get_by_test_id("channel").select_option("livestream")
        shop.get_by_test_id("notify").check()
        shop.get_by_test_id("register-submit").click()
        expect(shop.get_by_test_id("code-sent")).to_be_visible()
        (message,) = sms.to(BUYER)
        assert message.template == sms.templates["registration_code"]  # its own text, not the sign-in's
        shop.get_by_test_id("code").fill(message.params["code"])
        shop.get_by_test_id("register-submit").click()
        expect(shop.get_by_test_id("registered")).to_be_visible()
        shop.goto(configure_url.removeprefix(live_server.url))

        # Sign in while the countdown runs.
        shop.goto("/login?lang=zh-CN&next=/configure/su7%3Ftrim%3Dmax%26option%3Dpaint-aqua-blue")
        shop.get_by_test_id("phone").fill("13800138066")
        shop.get_by_test_id("send-code").click()
        code = shop.get_by_test_id("dev-code").inner_text()
        shop.get_by_test_id("code").fill(re.sub(r"\D", "", code)[-6:])
        shop.get_by_test_id("sign-in").click()
        expect(shop.get_by_test_id("countdown")).to_be_visible()
        early = shop.request.post(
            "/api/v1/orders?lang=zh-CN",
            data={"configuration": {"model": "su7", "trim": "max", "options": []}},
            headers={"Idempotency-Key": "early", "Authorization": f"Bearer {_token(shop)}"},
        )
        assert early.status == 422
        problem = early.json()
        assert problem["code"] == "orders-not-open"
        assert "开放订购" in problem["detail"] and "北京时间" in problem["detail"]

        # Signed in with the same number, the registration is the buyer's own.
        shop.goto("/campaigns/su7-night/register?lang=zh-CN")
        expect(shop.get_by_test_id("my-registration")).to_contain_text("上海")
        shop.goto(configure_url.removeprefix(live_server.url))

        # The reveal (brought forward so the test does not wait two minutes): the page shows itself.
        _reveal_in(live_server, 4)
        shop.reload()
        expect(shop.get_by_test_id("reserve")).to_be_visible(timeout=20_000)
        expect(shop.get_by_test_id("total")).to_contain_text("¥")

        live = console.context.new_page()
        live.goto(campaign_url + "/live?lang=zh-CN")
        expect(live.get_by_test_id("reveal-state")).to_have_attribute("data-revealed", "yes", timeout=5_000)

        shop.get_by_test_id("reserve").click()
        expect(shop).to_have_url(re.compile(r"/checkout\?model=su7&trim=max&option="))
        expect(shop.get_by_test_id("perk-offer")).to_contain_text("赠送锻造轮毂")
        shop.get_by_test_id("place-order").click()
        expect(shop).to_have_url(re.compile(r"/pay/simulator/"))
        shop.get_by_test_id("sim-pay").click()
        expect(shop.get_by_test_id("order-status")).to_have_attribute("data-status", "reserved")

        # The live view, without a reload: the order under 小美.
        funnel = live.get_by_test_id("funnel")
        expect(funnel.locator("tr", has_text="小美")).to_contain_text("达人", timeout=5_000)
        expect(live.locator('[data-figure="reservations"]')).to_have_text("1", timeout=5_000)
        expect(live.locator('[data-figure="paid"]')).to_have_text("1", timeout=10_000)
        expect(funnel.locator("tr", has_text="小美").locator("td").nth(3)).to_have_text("1")
        expect(funnel.locator("tr", has_text="阿杰")).to_have_count(0)

        # The registrant was told at the reveal: one opening notice, through the provider.
        deadline = time.monotonic() + 30
        while not [m for m in sms.to(BUYER) if m.template == sms.templates["orders_open"]]:
            assert time.monotonic() < deadline, "the registrant was not told at the reveal"
            time.sleep(0.5)

        # The perk, won by the first paid order, on the order page.
        shop.reload()
        expect(shop.get_by_test_id("perk-won")).to_contain_text("赠送锻造轮毂", timeout=10_000)
    finally:
        hq.close()
        buyer.close()


def _token(page: Page) -> str:
    """The signed-in buyer's session token, from the session cookie the sign-in page set."""
    for cookie in page.context.cookies():
        if cookie["name"] in ("carloop_session", "session"):
            return str(cookie["value"])
    raise AssertionError("no session cookie")

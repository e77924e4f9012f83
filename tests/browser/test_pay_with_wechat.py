"""Paying the deposit by WeChat Pay in the browser, with production settings and the served stack.

The test plays WeChat Pay with its local stand-in (it checks carloop's request signatures and signs
and encrypts its callbacks). The buyer reserves an SU7 in zh-CN on a desktop window, where the pay
page shows the Native QR code; the buyer "scans" it (the stand-in marks the order paid and sends
the callback, then a replayed and a forged one), the page moves on to the reserved order, and the
buyer refunds the deposit, which goes back through WeChat Pay (and its refund callback).
The buyer signs in by the SMS code that Tencent Cloud SMS (its local stand-in) delivered.
"""

from __future__ import annotations

import io
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, expect
from pydantic import SecretStr
from pypdf import PdfReader
from sqlalchemy import func, select
from stand_ins.sms import SmsStandIn, serve_sms
from stand_ins.wechat import WeChatPayStandIn, serve

from carloop.db import Base, enable_wal, make_engine
from carloop.payments import ledger
from carloop.payments.models import JournalEntry, NotificationLog
from carloop.settings import Settings
from carloop.web.asgi import create

pytestmark = pytest.mark.browser

PUBLIC = "https://pay.carloop.test"  # the site's public address (production wants https)


@pytest.fixture(scope="module")
def wechat() -> Iterator[WeChatPayStandIn]:
    with serve(WeChatPayStandIn(public=PUBLIC)) as standin:
        yield standin


@pytest.fixture(scope="module")
def sms() -> Iterator[SmsStandIn]:
    """Tencent Cloud SMS, played locally: the buyer's sign-in code arrives there."""
    with serve_sms("tencent") as standin:
        yield standin


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, wechat: WeChatPayStandIn, sms: SmsStandIn
) -> Iterator[tuple[str, FastAPI]]:
    """What ``carloop serve`` runs, with production settings and WeChat Pay, on a free port."""
    import carloop.models  # noqa: F401 - registers every domain's tables

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    wechat.local = url
    db_file = tmp_path_factory.mktemp("wechat") / "carloop.db"
    settings = Settings(
        environment="production",
        database_url=f"sqlite:///{db_file}",
        secret_key=SecretStr("wechat-test-secret-key-0123456789"),
        payment_provider="wechat",
        **sms.settings(),
        host="127.0.0.1",
        port=port,
        public_base_url=PUBLIC,
        outbox_interval=0,
        jobs_tick=0,
        realname_verifier="tencent",  # production refuses the checksum-only stand-in; unused here
        realname_tencent_secret_id="AKIDunused",
        realname_tencent_secret_key=SecretStr("u" * 32),
        einvoice_provider="disabled",  # production refuses the e-invoice stand-in
        **wechat.settings(),
    )
    schema = make_engine(settings)
    enable_wal(schema)
    Base.metadata.create_all(schema)
    schema.dispose()
    asgi = create(settings)
    server = uvicorn.Server(
        uvicorn.Config(asgi, log_config=None, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield url, asgi.fastapi
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_sign_in_by_sms_pay_the_deposit_by_scanning_the_wechat_pay_code_then_refund(
    browser: Browser, served: tuple[str, FastAPI], wechat: WeChatPayStandIn, sms: SmsStandIn
) -> None:
    url, app = served
    context = browser.new_context(base_url=url, locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto("/login?lang=zh-CN&next=/checkout%3Fmodel%3Dsu7%26trim%3Dpro")
        page.get_by_test_id("phone").fill("13800138020")
        page.get_by_test_id("send-code").click()
        expect(page.get_by_test_id("code-sent")).to_be_visible()
        page.get_by_test_id("code").fill(sms.last_code("+8613800138020"))
        page.get_by_test_id("sign-in").click()
        expect(page.get_by_test_id("place-order")).to_be_visible()
        page.goto("/checkout?model=su7&trim=pro&lang=zh-CN")
        page.get_by_test_id("place-order").click()
        qr = page.get_by_test_id("wechat-qr")
        expect(qr).to_be_visible()
        expect(qr.locator("svg")).to_be_visible()
        expect(page.locator("h1")).to_have_text("微信支付")
        (trade_no,) = wechat.orders
        assert wechat.orders[trade_no].kind == "NATIVE" and not wechat.refused

        # The buyer scans and pays: WeChat Pay calls carloop back; a replay and a forgery change nothing.
        paid = wechat.pay(trade_no)
        assert wechat.deliver(paid).status_code == 200
        assert wechat.deliver(paid).status_code == 200
        forged = wechat.pay(trade_no)
        forged.headers = wechat.signed_headers(forged.body, key=wechat.merchant_key)
        assert wechat.deliver(forged).status_code == 400
        page.reload()  # the page refreshes itself every few seconds; the test does not wait for it
        expect(page).to_have_url(re.compile(r"/orders/SU7-[A-Z0-9]+$"))
        expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "reserved")

        page.get_by_test_id("refund").click()
        expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "refunded")
        expect(page.get_by_test_id("refund-route")).to_contain_text("微信支付")
        (refund_no,) = wechat.refunds
        assert wechat.deliver(wechat.refund_callback(refund_no)).status_code == 200

        # Both receipts (the capture's and the refund's; the replay and the forgery made none) as PDFs.
        page.reload()
        rows = page.get_by_test_id("documents").get_by_test_id("receipt-row")
        expect(rows).to_have_count(2)
        for row, title in zip((rows.nth(0), rows.nth(1)), ("收据", "退款凭证"), strict=True):
            with page.expect_download() as info:
                row.get_by_test_id("receipt-pdf").click()
            path = info.value.path()
            assert path is not None and path.read_bytes().startswith(b"%PDF-")
            text = PdfReader(io.BytesIO(path.read_bytes())).pages[0].extract_text()
            assert info.value.suggested_filename.removesuffix(".pdf") in text
            assert text.startswith(title) and "微信支付" in text and "¥5,000.00" in text
    finally:
        context.close()
    with app.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(JournalEntry)) == 2  # paid, refunded
        outcomes = list(session.scalars(select(NotificationLog.outcome).order_by(NotificationLog.id)))
        assert outcomes == ["captured", "duplicate", "rejected", "refund_succeeded"]
        assert ledger.check(session=session).ok

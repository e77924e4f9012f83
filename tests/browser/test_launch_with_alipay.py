"""Launch day with real money, in the browser: production settings and the Alipay adapter.

The served stack is what ``carloop serve`` runs (the lanes in front of the app). The test plays
Alipay with keys it generates: its cashier (Playwright intercepts the gateway URL the app signed)
posts the RSA2-signed asynchronous notification to carloop's notify URL and sends the buyer back.
A buyer reserves an SU7 and then a numbered Founders Edition from the pages and pays both; another
buyer holds the last number but never pays, so when the payment window ends (the lapse job) the
number passes to the buyer waiting next in line, who then pays and locks it.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, Route, expect
from pydantic import SecretStr
from sqlalchemy import select
from stand_ins.sms import SmsStandIn, serve_sms
from stand_ins.tencent_cloud import TencentCloud

from carloop.accounts import service as accounts
from carloop.clock import utcnow
from carloop.db import Base, enable_wal, make_engine
from carloop.ordering import deposits
from carloop.ordering.editions import id_number_with_check
from carloop.ordering.models import EditionStock, Order
from carloop.payments.providers.alipay import SANDBOX_GATEWAY, sign_notification
from carloop.settings import Settings
from carloop.web.asgi import create

pytestmark = pytest.mark.browser

APP_ID = "2021000000000042"
PUBLIC = "https://launch.carloop.test"  # the site's public address (production wants https)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class Alipay:
    """The test's Alipay: a cashier that pays (or not) and signs notifications with its own key."""

    def __init__(self) -> None:
        self.local = ""  # where the public address is served in this test (set by ``served``)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = (
            self.key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        self.pays = True
        self.paid: list[str] = []

    def cashier(self, route: Route) -> None:
        """alipay.trade.page.pay: pay the trade and notify carloop, then send the buyer back."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(route.request.url).query).items()}
        assert query["method"] == "alipay.trade.page.pay" and query["app_id"] == APP_ID
        biz = json.loads(query["biz_content"])
        if not self.pays:  # the buyer looks at the cashier and walks away
            route.fulfill(status=200, content_type="text/html", body="<p>Alipay cashier</p>")
            return
        form = {
            "app_id": APP_ID,
            "out_trade_no": biz["out_trade_no"],
            "trade_no": f"2026120722{len(self.paid):018d}",
            "total_amount": biz["total_amount"],
            "trade_status": "TRADE_SUCCESS",
            "notify_time": "2026-12-07 10:00:00",
            "notify_id": f"n{len(self.paid)}",
            "charset": "utf-8",
            "sign_type": "RSA2",
        }
        form["sign"] = sign_notification(_pem(self.key), form)
        answer = httpx.post(self._here(query["notify_url"]), data=form, timeout=10)
        assert answer.status_code == 200 and answer.text == "success", answer.text
        self.paid.append(biz["out_trade_no"])
        route.fulfill(status=302, headers={"Location": self._here(query["return_url"])})

    def _here(self, public_url: str) -> str:
        """A URL under the public address, as this test reaches it (a proxy would do this)."""
        assert public_url.startswith(PUBLIC + "/"), public_url
        return self.local + public_url[len(PUBLIC) :]


@pytest.fixture(scope="module")
def alipay() -> Alipay:
    """The test's Alipay, with a fresh RSA key."""
    return Alipay()


FACEID_ID = "AKIDlaunchtest"
FACEID_KEY = secrets.token_urlsafe(32)  # generated per run
BUYERS = {id_number_with_check(f"1101051980010100{n}"): "张三" for n in (1, 2, 3)}


@pytest.fixture(scope="module")
def faceid() -> Iterator[TencentCloud]:
    """Tencent Cloud FaceID's stand-in (checks TC3 signatures), knowing the test's buyers."""
    stand_in = TencentCloud(FACEID_ID, FACEID_KEY, BUYERS).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def sms() -> Iterator[SmsStandIn]:
    """Alibaba Cloud SMS, played locally (production refuses to start without an SMS provider)."""
    with serve_sms("aliyun") as standin:
        yield standin


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, alipay: Alipay, faceid: TencentCloud, sms: SmsStandIn
) -> Iterator[tuple[str, Any]]:
    """What ``carloop serve`` runs, with production settings and the Alipay adapter, on a free port."""
    import carloop.models  # noqa: F401 - registers every domain's tables

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    alipay.local = url
    db_file = tmp_path_factory.mktemp("launch") / "carloop.db"
    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings = Settings(
        environment="production",
        database_url=f"sqlite:///{db_file}",
        secret_key=SecretStr("launch-test-secret-key-0123456789"),
        simulator_secret=SecretStr("launch-test-simulator-secret-0123"),
        payment_provider="alipay",
        alipay_app_id=APP_ID,
        alipay_app_private_key=SecretStr(_pem(app_key)),
        alipay_public_key=alipay.public_pem,
        alipay_sandbox=True,
        **sms.settings(),
        host="127.0.0.1",
        port=port,
        public_base_url=PUBLIC,
        outbox_interval=0,
        realname_verifier="tencent",
        realname_tencent_secret_id=FACEID_ID,
        realname_tencent_secret_key=SecretStr(FACEID_KEY),
        realname_tencent_endpoint=faceid.endpoint,
        einvoice_provider="disabled",  # production refuses the e-invoice stand-in
    )
    schema = make_engine(settings)
    enable_wal(schema)
    Base.metadata.create_all(schema)
    schema.dispose()
    asgi = create(settings)
    config = uvicorn.Config(asgi, log_config=None, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield url, _fastapi_of(asgi)  # (the URL, the FastAPI app behind the lanes)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _fastapi_of(asgi: Any) -> FastAPI:
    """The FastAPI app at the bottom of the served stack (``web.asgi.Served.fastapi``)."""
    seen = asgi
    for _ in range(6):
        if isinstance(seen, FastAPI):
            return seen
        seen = getattr(seen, "fastapi", None) or getattr(seen, "app", None) or getattr(seen, "inner", None)
    raise AssertionError("no FastAPI app in the served stack")


def _buyer(app: Any, phone: str) -> str:
    with app.state.sessions.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone=phone)
        session.flush()
        token, _ = accounts.start_session(session=session, settings=app.state.settings, customer=customer)
    return str(token)


def _page(browser: Browser, url: str, token: str, alipay: Alipay) -> Page:
    context = browser.new_context(base_url=url, locale="en")
    context.add_cookies([{"name": "carloop_session", "value": token, "url": url}])
    page = context.new_page()
    page.route(re.compile("^" + re.escape(SANDBOX_GATEWAY)), alipay.cashier)
    return page


def _reserve(page: Page, query: str, id_number: str | None = None) -> None:
    page.goto(f"/checkout?{query}&lang=en")
    if id_number is not None:
        page.get_by_test_id("real-name").fill(BUYERS[id_number])
        page.get_by_test_id("id-number").fill(id_number)
    page.get_by_test_id("place-order").click()


def test_reserve_and_pay_with_alipay_then_an_unpaid_number_passes_on(
    browser: Browser, served: tuple[str, Any], alipay: Alipay
) -> None:
    url, app = served
    with app.state.sessions.begin() as session:
        session.add(EditionStock(edition="su7-founders", capacity=2, taken=0))
    first = _page(browser, url, _buyer(app, "13800138010"), alipay)
    try:
        # An SU7 from the pages, paid at Alipay's cashier: back on the order page, reserved.
        _reserve(first, "model=su7&trim=pro")
        expect(first).to_have_url(re.compile(r"/orders/SU7-[A-Z0-9]+$"))
        expect(first.get_by_test_id("order-status")).to_have_attribute("data-status", "reserved")
        expect(first.get_by_test_id("refundable")).to_be_visible()
        # Then a numbered Founders Edition: it locks at payment with number 1.
        _reserve(first, "model=su7&trim=founders", id_number_with_check("11010519800101001"))
        expect(first).to_have_url(re.compile(r"/orders/SU7-[A-Z0-9]+$"))
        expect(first.get_by_test_id("order-status")).to_have_attribute("data-status", "locked")
        expect(first.get_by_test_id("edition-number")).to_have_text("#1")
    finally:
        first.context.close()
    assert len(alipay.paid) == 2

    # A second buyer holds the last number and walks away from the cashier; a third waits in line.
    alipay.pays = False
    second = _page(browser, url, _buyer(app, "13800138011"), alipay)
    third = _page(browser, url, _buyer(app, "13800138012"), alipay)
    try:
        _reserve(second, "model=su7&trim=founders", id_number_with_check("11010519800101002"))
        expect(second.locator("body")).to_contain_text("Alipay cashier")  # at the cashier, not paying
        second.goto("/orders?lang=en")
        second.locator("a[href^='/orders/SU7-']").first.click()
        expect(second.get_by_test_id("order-status")).to_have_attribute("data-status", "pending_payment")
        expect(second.get_by_test_id("edition-number")).to_have_text("#2")
        expect(second.get_by_test_id("pay-by")).to_be_visible()
        holder = second.url
        _reserve(third, "model=su7&trim=founders", id_number_with_check("11010519800101003"))
        expect(third.locator("body")).to_contain_text("Alipay cashier")
        third.goto("/orders?lang=en")
        third.locator("a[href^='/orders/SU7-']").first.click()
        expect(third.get_by_test_id("edition-waiting")).to_be_visible()
        waiting = third.url

        # The holder's payment window ends (the third buyer's, opened later, has not): the server's
        # lapse job, run here with its clock at that moment.
        number = holder.rsplit("/", 1)[1]
        with app.state.sessions.begin() as session:
            due = session.scalar(select(Order.payment_due_at).where(Order.number == number))
            assert due is not None and due > utcnow() + timedelta(minutes=14)  # the 15-minute default
            assert deposits.lapse_unpaid(session=session, now=due) == 1

        second.goto(holder)
        expect(second.get_by_test_id("order-status")).to_have_attribute("data-status", "cancelled")
        third.goto(waiting)
        expect(third.get_by_test_id("order-status")).to_have_attribute("data-status", "pending_payment")
        expect(third.get_by_test_id("edition-number")).to_have_text("#2")
        expect(third.get_by_test_id("queue-position")).to_have_text("#3")  # moved up from 4
        alipay.pays = True
        third.get_by_test_id("pay-deposit").click()
        expect(third.get_by_test_id("order-status")).to_have_attribute("data-status", "locked")
        expect(third.get_by_test_id("edition-number")).to_have_text("#2")
    finally:
        second.context.close()
        third.context.close()

"""Daily reconciliation against Alipay's trade bill, the test playing Alipay's gateway (signed
answers to alipay.trade.query and the bill download query, then the bill zip in GBK)."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import parse_qsl

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.clock import SHANGHAI
from carloop.payments import ledger, reconciliation
from carloop.payments.models import JournalEntry, Payment, PaymentStatus
from carloop.payments.providers.alipay import AlipayProvider, sign_notification
from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.asgi import Served
from carloop.web.captures import CAPTURE_HANDLERS, LOCK_FIRST

APP_ID = "2021000000000077"
PRO = {"configuration": {"model": "su7", "trim": "pro", "options": ["paint-aqua-blue"]}}
HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
    "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class Alipay:
    """The test's Alipay gateway: trades it was paid for, signed answers, the day's bill."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.paid: dict[str, tuple[str, str]] = {}  # out_trade_no -> (trade_no, amount)
        self.bill_rows: list[str] = []

    def signed(self, response_type: str, answer: dict[str, str]) -> str:
        inner = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
        sign = base64.b64encode(self.key.sign(inner.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
        return f'{{"{response_type}":{inner},"sign":"{sign}"}}'

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "bill.alipay.test":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                text = (
                    "#支付宝业务明细查询\n#账号：[2088]\n"
                    + "\n".join([HEADER, *self.bill_rows])
                    + "\n#结束\n"
                )
                archive.writestr("2088_20261207_业务明细.csv", text.encode("gbk"))
                archive.writestr("2088_20261207_业务明细(汇总).csv", "#汇总\n".encode("gbk"))
            return httpx.Response(200, content=buffer.getvalue())
        params = dict(parse_qsl(request.url.query.decode()))
        biz = json.loads(params["biz_content"])
        if params["method"] == "alipay.trade.query":
            found = self.paid.get(biz["out_trade_no"])
            if found is None:
                answer = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}
            else:
                answer = {
                    "code": "10000",
                    "msg": "Success",
                    "out_trade_no": biz["out_trade_no"],
                    "trade_no": found[0],
                    "total_amount": found[1],
                    "trade_status": "TRADE_SUCCESS",
                }
            return httpx.Response(200, text=self.signed("alipay_trade_query_response", answer))
        assert params["method"] == "alipay.data.dataservice.bill.downloadurl.query"
        answer = {"code": "10000", "msg": "Success", "bill_download_url": "https://bill.alipay.test/d?t=1"}
        return httpx.Response(
            200, text=self.signed("alipay_data_dataservice_bill_downloadurl_query_response", answer)
        )

    def pay(self, out_trade_no: str, amount: str, bill_amount: str | None = None) -> dict[str, str]:
        trade_no = f"2026120722{len(self.paid):018d}"
        self.paid[out_trade_no] = (trade_no, amount)
        billed = bill_amount or amount
        self.bill_rows.append(
            f"{trade_no}\t,{out_trade_no}\t,交易,carloop,2026-12-07 10:00:00,2026-12-07 10:00:05,,,,,"
            f"b***@x.com,{billed},{billed},0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.60,0.00,"
        )
        form = {
            "app_id": APP_ID,
            "out_trade_no": out_trade_no,
            "trade_no": trade_no,
            "total_amount": amount,
            "trade_status": "TRADE_SUCCESS",
            "notify_time": "2026-12-07 10:00:05",
            "notify_id": trade_no,
            "sign_type": "RSA2",
        }
        form["sign"] = sign_notification(_pem(self.key), form)
        return form


@pytest.fixture
def alipay() -> Alipay:
    return Alipay()


@pytest.fixture
def ali_settings(settings: Settings, alipay: Alipay) -> Settings:
    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = alipay.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return settings.model_copy(
        update={
            "payment_provider": "alipay",
            "alipay_app_id": APP_ID,
            "alipay_app_private_key": SecretStr(_pem(app_key)),
            "alipay_public_key": public.decode(),
        }
    )


@pytest.fixture
def client(ali_settings: Settings, engine: object) -> Iterator[TestClient]:
    app = create_app(ali_settings)
    with TestClient(Served(app), raise_server_exceptions=False) as c:
        yield c
    app.state.engine.dispose()


def _reserve(client: TestClient, factory: sessionmaker[Session], settings: Settings, phone: str) -> str:
    with factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone=phone)
        session.flush()
        token, _ = accounts.start_session(session=session, settings=settings, customer=customer)
    made = client.post(
        "/api/v1/orders", json=PRO, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": phone}
    )
    assert made.status_code == 201, made.text
    trade_no: str = made.json()["payment"]["trade_no"]
    return trade_no


def test_alipay_bill_day_with_a_lost_notification_a_duplicate_and_a_mismatch(
    client: TestClient, alipay: Alipay, ali_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    mismatched, lost, doubled = (
        _reserve(client, session_factory, ali_settings, phone)
        for phone in ("13800138011", "13800138012", "13800138013")
    )
    assert (
        client.post("/api/v1/payments/notify/alipay", data=alipay.pay(mismatched, "5000.00", "4999.00")).text
        == "success"
    )
    alipay.pay(lost, "5000.00")  # paid at Alipay; the notification never arrives
    assert (
        client.post("/api/v1/payments/notify/alipay", data=alipay.pay(doubled, "5000.00")).text == "success"
    )
    alipay.bill_rows.append(alipay.bill_rows[-1].replace("2026120722", "2026120799", 1))  # paid twice
    provider = AlipayProvider.from_settings(ali_settings, transport=httpx.MockTransport(alipay.handle))
    day = datetime.now(SHANGHAI).date()

    def run() -> reconciliation.Report:
        with session_factory.begin() as session:
            return reconciliation.reconcile(
                session=session, provider=provider, day=day, handlers=CAPTURE_HANDLERS, lock_first=LOCK_FIRST
            )

    first = run()
    assert {(str(d.kind), d.trade_no) for d in first.differences} == {
        ("amount_mismatch", mismatched),
        ("missing_at_carloop", lost),
        ("duplicate", doubled),
    }
    assert first.fixed == [lost]
    with session_factory() as session:
        entries = session.scalar(select(func.count()).select_from(JournalEntry))
        payment = session.scalar(select(Payment).where(Payment.trade_no == lost))
        assert payment is not None and payment.status is PaymentStatus.SUCCEEDED
    second = run()
    assert second.fixed == [] and {str(d.kind) for d in second.differences} == {
        "amount_mismatch",
        "duplicate",
    }
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(JournalEntry)) == entries == 3
        assert ledger.check(session=session).ok

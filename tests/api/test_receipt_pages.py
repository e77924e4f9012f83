"""Receipts and sales documents as PDFs: the buyer downloads their own (anyone else's is not found),
staff download within their role and store (audited), both in zh-CN and en, and the e-invoice is
issued and reversed through the provider adapter (or, disabled, said to be issued offline)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.audit.models import AuditEntry
from carloop.handlers import all_handlers
from carloop.invoicing.models import EInvoice, EInvoiceKind, SalesDocument
from carloop.money import format_fen
from carloop.network import service as network
from carloop.network.schemas import StoreKind
from carloop.ordering import service as ordering
from carloop.outbox.service import dispatch
from carloop.payments.providers.base import NotificationStatus
from carloop.receipts import rules as numbering
from carloop.receipts.models import Receipt
from carloop.settings import Settings
from carloop.web.deps import csrf_token_for
from tests.builders.ordering import STAGES

PASSWORD = "a-long-test-password-1"
HTML = {"Accept": "text/html"}
VIN = "LSJA24U69PS000777"


def _text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _sign_in_buyer(client: TestClient, phone: str) -> str:
    client.cookies.clear()
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = str(client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"])
    client.cookies.set("carloop_session", token)
    return token


def _sign_in_staff(client: TestClient, username: str, role: Role) -> str:
    with _sessions(client).begin() as s:
        store_id = None
        if role is Role.STORE_STAFF:  # a delivery centre no order here is assigned to
            store_id = network.create_store(
                session=s, code=f"SH-{username}", kind=StoreKind.DELIVERY_CENTRE, name_en="Shanghai",
                name_zh="上海", city="Shanghai", province="Shanghai",
            ).id  # fmt: skip
        accounts.create_staff(
            session=s, actor=None, username=username, display_name=username.title(), password=PASSWORD,
            role=role, store_id=store_id,
        )  # fmt: skip
    client.cookies.clear()
    token = client.post(
        "/api/v1/auth/staff/sign-in", json={"username": username, "password": PASSWORD}
    ).json()["token"]
    client.cookies.set("carloop_session", token)
    return csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]


def _sessions(client: TestClient) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    return factory


def _paid_order(client: TestClient, phone: str) -> tuple[str, int]:
    """A signed-in buyer's order with its deposit captured: (order number, deposit fen)."""
    token = _sign_in_buyer(client, phone)
    made: dict[str, Any] = client.post(
        "/api/v1/orders",
        json={"configuration": {"model": "su7", "trim": "pro", "options": []}},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    payment = made["payment"]
    provider = client.app.state.payment_provider  # type: ignore[attr-defined]
    form = provider.signed_notification(
        trade_no=payment["trade_no"], amount_fen=payment["amount_fen"], status=NotificationStatus.SUCCEEDED
    )
    for _ in range(2):  # the provider's replay changes nothing
        assert client.post("/api/v1/payments/notify/simulator", data=form).text == "success"
    return str(made["order"]["number"]), int(payment["amount_fen"])


def _receipts(client: TestClient) -> list[Receipt]:
    with _sessions(client)() as s:
        return list(s.scalars(select(Receipt).order_by(Receipt.seq)))


def test_buyer_downloads_their_receipt_in_chinese_and_english(client: TestClient) -> None:
    number, deposit = _paid_order(client, "13800138001")
    (receipt,) = _receipts(client)
    page = client.get(f"/orders/{number}?lang=zh-CN", headers=HTML)
    link = f"/orders/{number}/receipts/{receipt.number}.pdf"
    assert link in page.text and "收据与单据" in page.text

    zh = client.get(link + "?lang=zh-CN")
    assert zh.status_code == 200 and zh.headers["content-type"] == "application/pdf"
    assert f'filename="{receipt.number}.pdf"' in zh.headers["content-disposition"]
    text = _text(zh.content)
    assert f"收据 {receipt.number}" in text
    assert format_fen(deposit, "zh_CN") in text and number in text and "不作为发票使用" in text

    en = _text(client.get(link + "?lang=en").content)
    assert f"Receipt {receipt.number}" in en and "Amount received" in en
    assert format_fen(deposit, "en") in en and "Deposit" in en


def test_someone_elses_receipt_is_not_found(client: TestClient) -> None:
    number, _ = _paid_order(client, "13800138002")
    (theirs,) = _receipts(client)
    mine, _ = _paid_order(client, "13800138003")  # signed in as the second buyer now
    assert client.get(f"/orders/{number}/receipts/{theirs.number}.pdf").status_code == 404
    # their receipt number under my own order is not found either
    assert client.get(f"/orders/{mine}/receipts/{theirs.number}.pdf").status_code == 404
    assert client.get(f"/orders/{number}/sales-document.pdf").status_code == 404
    client.cookies.clear()
    anonymous = client.get(f"/orders/{number}/receipts/{theirs.number}.pdf", follow_redirects=False)
    assert anonymous.status_code in (303, 401)


def test_a_refund_gets_its_own_numbered_receipt(client: TestClient) -> None:
    number, deposit = _paid_order(client, "13800138004")
    with _sessions(client).begin() as s:
        order = ordering.load(session=s, number=number)
        provider = client.app.state.payment_provider  # type: ignore[attr-defined]
        ordering.refund_deposit(session=s, provider=provider, order=order, actor="t")
    paid, refunded = _receipts(client)
    assert (paid.seq, refunded.seq, refunded.kind) == (1, 2, "refund")
    text = _text(client.get(f"/orders/{number}/receipts/{refunded.number}.pdf?lang=zh-CN").content)
    assert f"退款凭证 {refunded.number}" in text and format_fen(deposit, "zh_CN") in text


def test_staff_download_within_their_store_and_it_is_audited(client: TestClient) -> None:
    number, _ = _paid_order(client, "13800138005")
    (receipt,) = _receipts(client)
    _sign_in_staff(client, "support", Role.HQ_OPS)
    page = client.get(f"/staff/orders/{number}?lang=en", headers=HTML)
    assert f"/staff/orders/{number}/receipts/{receipt.number}.pdf" in page.text
    pdf = client.get(f"/staff/orders/{number}/receipts/{receipt.number}.pdf?lang=en")
    assert receipt.number in _text(pdf.content)
    with _sessions(client)() as s:
        actions = set(s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == number)))
    assert "receipt.download" in actions
    _sign_in_staff(client, "store9", Role.STORE_STAFF)  # another store's staff: the order is not theirs
    assert client.get(f"/staff/orders/{number}/receipts/{receipt.number}.pdf").status_code == 404
    _sign_in_buyer(client, "13800138006")  # a buyer is not staff
    assert client.get(f"/staff/orders/{number}/receipts/{receipt.number}.pdf").status_code in (403, 404)


def _deliver(client: TestClient, number: str) -> None:
    from carloop.ordering import rules as order_rules

    with _sessions(client).begin() as s:
        order = ordering.load(session=s, number=number)
        confirmation = order_rules.LockConfirmation(
            True, order.deposit_fen, ordering.configuration_summary(order)
        )
        ordering.lock(session=s, order=order, confirmation=confirmation, actor="t")
    with _sessions(client).begin() as s:
        order = ordering.load(session=s, number=number)
        for stage in STAGES:
            extra = {"vin": VIN} if stage.value == "delivered" else {}
            ordering.advance(session=s, order=order, target=stage, actor="staff:1", reason="test", **extra)
    dispatch(_sessions(client), all_handlers())


def test_a_delivered_car_gets_a_sales_document_and_its_e_invoice(client: TestClient) -> None:
    number, deposit = _paid_order(client, "13800138007")
    _deliver(client, number)
    dispatch(_sessions(client), all_handlers())  # a second dispatch writes no second document
    with _sessions(client)() as s:
        (doc,) = s.scalars(select(SalesDocument)).all()
    assert doc.number == numbering.document_number("S", doc.year, 1)
    assert (doc.vin, doc.deposit_fen, doc.balance_fen) == (VIN, deposit, doc.total_fen - deposit)
    assert (
        doc.tax_fen == numbering.vat_included(doc.total_fen)
        and doc.vehicle_fen + doc.options_fen == doc.total_fen
    )

    _sign_in_buyer(client, "13800138007")
    zh = _text(client.get(f"/orders/{number}/sales-document.pdf?lang=zh-CN").content)
    assert f"销售单 {doc.number}" in zh and VIN in zh
    assert format_fen(doc.tax_fen, "zh_CN") in zh and format_fen(doc.balance_fen, "zh_CN") in zh
    assert "电子发票尚未开具" in zh
    en = _text(client.get(f"/orders/{number}/sales-document.pdf?lang=en").content)
    assert "of which VAT at 13 percent" in en and format_fen(doc.total_fen, "en") in en

    csrf = _sign_in_staff(client, "support", Role.HQ_OPS)
    for _ in range(2):  # a double click is one invoice
        issued = client.post(f"/staff/orders/{number}/einvoice", data={"csrf_token": csrf}, headers=HTML)
        assert issued.status_code == 200
    with _sessions(client)() as s:
        (blue,) = s.scalars(select(EInvoice)).all()
    assert blue.kind is EInvoiceKind.BLUE and blue.amount_fen == doc.total_fen
    assert blue.invoice_no in issued.text
    assert blue.invoice_no in _text(client.get(f"/staff/orders/{number}/sales-document.pdf?lang=en").content)


def test_delivery_issues_the_e_invoice_through_the_provider_once_and_an_outage_only_delays_it(
    client: TestClient,
) -> None:
    from datetime import timedelta

    from carloop.clock import utcnow
    from carloop.errors import Unavailable
    from carloop.invoicing.fapiao import InvoiceRequest, IssuedInvoice, StandInProvider
    from carloop.invoicing.handlers import AutoInvoicer, EInvoiceDue

    class DownFirst(StandInProvider):
        """The tax-control provider, down for its first request."""

        calls = 0

        def issue(self, request: InvoiceRequest) -> IssuedInvoice:
            self.calls += 1
            if self.calls == 1:
                raise Unavailable("tax-control platform timed out")
            return super().issue(request)

    number, _ = _paid_order(client, "13800138010")
    provider = DownFirst()
    _deliver(client, number)  # the dispatcher without settings leaves the e-invoice due
    with _sessions(client)() as s:
        assert s.scalars(select(EInvoice)).all() == []
    handlers = {**all_handlers(), EInvoiceDue.name: [AutoInvoicer(provider).handle]}
    assert dispatch(_sessions(client), handlers, now=utcnow() + timedelta(hours=1)) == 0  # deferred
    with _sessions(client)() as s:
        assert s.scalars(select(EInvoice)).all() == []
    for _ in range(2):  # after the outage: issued once; later passes find nothing due
        dispatch(_sessions(client), handlers, now=utcnow() + timedelta(days=1))
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    dispatch(_sessions(client), all_handlers(settings), now=utcnow() + timedelta(days=2))
    with _sessions(client)() as s:
        (blue,) = s.scalars(select(EInvoice)).all()
        (doc,) = s.scalars(select(SalesDocument)).all()
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "einvoice.blue")).one()
    assert provider.calls == 2 and blue.kind is EInvoiceKind.BLUE and blue.amount_fen == doc.total_fen
    assert (entry.actor, entry.target_id) == ("system", number)
    _sign_in_buyer(client, "13800138010")
    assert blue.invoice_no in _text(client.get(f"/orders/{number}/sales-document.pdf?lang=en").content)


def test_the_configured_provider_issues_the_e_invoice_on_delivery(client: TestClient) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    number, _ = _paid_order(client, "13800138011")
    _deliver(client, number)
    for _ in range(2):
        dispatch(_sessions(client), all_handlers(settings))
    with _sessions(client)() as s:
        (blue,) = s.scalars(select(EInvoice)).all()
    assert blue.kind is EInvoiceKind.BLUE and blue.provider == "standin"


def test_a_refund_after_the_e_invoice_is_reversed_with_a_red_letter_invoice(client: TestClient) -> None:
    from carloop.accounts.schemas import Principal
    from carloop.payments import service as payments

    number, _ = _paid_order(client, "13800138008")
    _deliver(client, number)
    csrf = _sign_in_staff(client, "support", Role.HQ_OPS)
    client.post(f"/staff/orders/{number}/einvoice", data={"csrf_token": csrf}, headers=HTML)
    with _sessions(client).begin() as s:  # a goodwill refund of part of a store payment
        order = ordering.load(session=s, number=number)
        staff = Principal(role=Role.HQ_OPS, staff_id=1)
        over = order.total_fen - order.deposit_fen + 50_000  # ¥500 more than the balance
        paid = payments.record_store_payment(
            session=s, principal=staff, order_id=order.id, amount_fen=over, reference="TILL-9"
        )
        payments.refund_surplus(
            session=s, provider=client.app.state.payment_provider, principal=staff,  # type: ignore[attr-defined]
            order_id=order.id, total_fen=order.total_fen,
        )  # fmt: skip
        assert paid.refunds
    refund = _receipts(client)[-1]
    assert refund.kind == "refund" and refund.amount_fen == 50_000
    page = client.get(f"/staff/orders/{number}?lang=zh-CN", headers=HTML)
    assert "开具红字发票冲销" in page.text
    for _ in range(2):
        client.post(
            f"/staff/orders/{number}/einvoice",
            data={"csrf_token": csrf, "refund": refund.number},
            headers=HTML,
        )
    with _sessions(client)() as s:
        red = s.scalars(select(EInvoice).where(EInvoice.kind == EInvoiceKind.RED)).all()
    assert [r.amount_fen for r in red] == [-50_000]
    forged = client.post(
        f"/staff/orders/{number}/einvoice", data={"csrf_token": csrf, "refund": "R1999-000001"}, headers=HTML
    )
    assert forged.status_code == 404


@pytest.fixture
def offline_client(settings: Settings, engine: Any) -> Iterator[TestClient]:
    from carloop.web.app import create_app

    app = create_app(settings.model_copy(update={"einvoice_provider": "disabled"}))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    app.state.engine.dispose()


def test_with_e_invoices_disabled_the_documents_say_the_maker_issues_them_offline(
    offline_client: TestClient,
) -> None:
    client = offline_client
    number, _ = _paid_order(client, "13800138009")
    _deliver(client, number)
    page = client.get(f"/orders/{number}?lang=zh-CN", headers=HTML)
    assert "电子发票由厂商线下开具。" in page.text
    text = _text(client.get(f"/orders/{number}/sales-document.pdf?lang=en").content)
    assert "issued by the maker offline" in text
    csrf = _sign_in_staff(client, "support", Role.HQ_OPS)
    refused = client.post(f"/staff/orders/{number}/einvoice", data={"csrf_token": csrf})
    assert refused.status_code in (403, 409, 422) and "offline" in refused.text


def test_production_refuses_the_e_invoice_stand_in_unless_disabled() -> None:
    production = {
        "environment": "production", "secret_key": "k" * 40, "payment_provider": "alipay",
        "public_base_url": "https://shop.example.cn", "realname_verifier": "tencent",
        "realname_tencent_secret_id": "AKIDtest", "realname_tencent_secret_key": "t" * 32,
        "sms_provider": "aliyun", "sms_access_key_id": "id", "sms_access_key_secret": "secret",
        "sms_sign_name": "卡路智行", "sms_templates": {"login_code": "SMS_1", "registration_code": "SMS_1"},
    }  # fmt: skip
    for choice in (None, "standin"):
        with pytest.raises(ValueError, match="CARLOOP_EINVOICE_PROVIDER=disabled"):
            Settings(**production, einvoice_provider=choice)
    assert Settings(**production, einvoice_provider="disabled").effective_einvoice_provider == "disabled"


def test_a_shop_order_paid_in_cash_has_its_receipts_for_its_owner_only(client: TestClient) -> None:
    from carloop.loyalty import shop
    from carloop.payments.models import Payment

    with _sessions(client).begin() as s:
        shop.add_product(
            session=s, sku="CAP", name_zh="帽子", name_en="Cap", price_points=1000, stock=3, price_fen=4900
        )
    token = _sign_in_buyer(client, "13800138010")
    owner = {"Authorization": f"Bearer {token}"}
    body = {"items": [{"sku": "CAP", "quantity": 1}], "points": 0}
    order = client.post("/api/v1/shop/orders", json=body, headers={**owner, "Idempotency-Key": "r1"}).json()
    with _sessions(client)() as s:
        payment = s.scalars(select(Payment).where(Payment.shop_order_id.is_not(None))).one()
    provider = client.app.state.payment_provider  # type: ignore[attr-defined]
    form = provider.signed_notification(
        trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
    )
    assert client.post("/api/v1/payments/notify/simulator", data=form).text == "success"
    _sign_in_staff(client, "ops", Role.HQ_OPS)
    staff_token = client.cookies.get("carloop_session")
    refunded = client.post(
        f"/api/v1/staff/shop/orders/{order['number']}/refund",
        json={"reason": "wrong size"},
        headers={"Authorization": f"Bearer {staff_token}"},
    )
    assert refunded.json()["status"] == "refunded"
    paid, back = _receipts(client)
    assert (paid.kind, back.kind, paid.amount_fen, back.amount_fen, paid.order_id) == (
        "payment", "refund", 4900, 4900, None
    )  # fmt: skip

    client.cookies.set("carloop_session", token)
    page = client.get("/shop/orders?lang=zh-CN", headers=HTML)
    link = f"/shop/orders/{order['number']}/receipts/{back.number}.pdf"
    assert link in page.text
    text = _text(client.get(link + "?lang=zh-CN").content)
    assert f"退款凭证 {back.number}" in text and "商城订单" in text and "¥49.00" in text
    _sign_in_buyer(client, "13800138011")
    assert client.get(link).status_code == 404

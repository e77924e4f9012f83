"""Daily reconciliation against WeChat Pay's trade bill (played by the local stand-in), from the CLI.

A day with a lost callback, a duplicate line and an amount mismatch: all three are reported, the
lost callback is captured through the normal capture path, a second run changes nothing more, the
ledger check passes, and HQ finance resolves what is left on the staff page (audited, CSRF).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from builders.accounts import csrf_of, staff_headers
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from stand_ins.wechat import APPID, MCHID, WeChatPayStandIn
from stand_ins.wechat_pay import DESKTOP, NOTIFY, reserve
from typer.testing import CliRunner

from carloop.accounts.schemas import Role
from carloop.audit.models import AuditEntry
from carloop.cli.main import app as cli
from carloop.clock import SHANGHAI
from carloop.jobs import registry
from carloop.jobs.rules import JobOutcome
from carloop.payments.models import JournalEntry, Payment, PaymentStatus, ReconciliationDifference
from carloop.settings import Settings


@pytest.fixture
def client(wx_client: TestClient) -> TestClient:
    """This module's client: the app with WeChat Pay (tests/stand_ins/wechat_pay.py)."""
    return wx_client


@pytest.fixture
def cli_env(wx_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads the same configuration from CARLOOP_* as the server."""
    for name, value in wx_settings.model_dump().items():
        if name.startswith("wechat_") or name in ("payment_provider", "public_base_url", "database_url"):
            text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            monkeypatch.setenv(f"CARLOOP_{name.upper()}", text)


def _reserve(client: TestClient, factory: sessionmaker[Session], settings: Settings, phone: str) -> str:
    token, made = reserve(client, factory, settings, phone=phone, key=phone)
    trade_no: str = made["payment"]["trade_no"]
    client.cookies.set("carloop_session", token)
    page = client.get(f"/pay/wechat/{trade_no}", headers=DESKTOP)
    client.cookies.clear()
    assert page.status_code == 200 and "<svg" in page.text
    return trade_no


def _run(day: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(
        cli, ["payments", "reconcile", "--provider", "wechat", "--date", day, "--json"]
    )
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


def _count(factory: sessionmaker[Session], what: object) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(what)) or 0)  # type: ignore[arg-type]


@pytest.mark.usefixtures("cli_env")
def test_a_day_with_a_lost_callback_a_duplicate_and_a_mismatch(
    client: TestClient,
    wechat: WeChatPayStandIn,
    wx_settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    mismatched = _reserve(client, session_factory, wx_settings, "13800138001")
    lost = _reserve(client, session_factory, wx_settings, "13800138002")
    doubled = _reserve(client, session_factory, wx_settings, "13800138003")
    for trade_no in (mismatched, doubled):
        made = wechat.pay(trade_no)
        assert client.post(NOTIFY, content=made.body, headers=made.headers).status_code == 200
    wechat.pay(lost)  # paid at WeChat Pay; the callback never arrives
    wechat.bill_amounts[mismatched] = 499_900  # the bill says ¥4,999 for a ¥5,000 deposit
    twice = wechat.orders[doubled]
    wechat.bill_extra.append(  # the buyer paid the same order twice (another transaction id)
        f"`2026-12-07 10:05:00,`{APPID},`{MCHID},`0,`,`4200000099999,`{doubled},`oUpF8,`NATIVE,`SUCCESS,"
        f"`OTHERS,`CNY,`{twice.total // 100}.00,`0.00,`0,`0,`0.00,`0.00,`,`,`carloop,`,`0.00,`0.60%,"
        f"`{twice.total // 100}.00,`0.00,`"
    )
    day = datetime.now(SHANGHAI).date().isoformat()
    entries_before = _count(session_factory, JournalEntry)

    code, report = _run(day)
    assert code == 1  # differences remain open for finance
    kinds = {(d["kind"], d["trade_no"]): d for d in report["differences"]}  # type: ignore[attr-defined]
    assert set(kinds) == {
        ("missing_at_carloop", lost),
        ("duplicate", doubled),
        ("amount_mismatch", mismatched),
    }
    assert kinds[("amount_mismatch", mismatched)]["provider_fen"] == 499_900
    assert kinds[("missing_at_carloop", lost)]["fixed"] is True
    assert report["fixed"] == [lost]
    with session_factory() as session:
        payment = session.scalar(select(Payment).where(Payment.trade_no == lost))
        assert payment is not None and payment.status is PaymentStatus.SUCCEEDED
        assert payment.provider_txn_id == wechat.orders[lost].transaction_id
    assert _count(session_factory, JournalEntry) == entries_before + 1  # the lost payment, booked once

    code, again = _run(day)  # the same day again: the lost callback is no longer a difference
    assert code == 1 and again["fixed"] == []
    assert {d["kind"] for d in again["differences"]} == {"duplicate", "amount_mismatch"}  # type: ignore[attr-defined]
    assert _count(session_factory, JournalEntry) == entries_before + 1
    assert _count(session_factory, ReconciliationDifference) == 3
    # the server's daily job (on this app, not in the process-wide registry): yesterday, seen from tomorrow
    job = next((j for j in client.app.state.jobs if j.name == "payments_reconcile"), None)  # type: ignore[attr-defined]
    assert registry.by_name("payments_reconcile") is None
    assert job is not None and job.every == timedelta(days=1)
    result = job.run(session_factory, datetime.now(UTC) + timedelta(days=1))
    assert (result.outcome, result.detail) == (JobOutcome.OK, f"{day}: 2 differences")
    assert _count(session_factory, JournalEntry) == entries_before + 1
    ledger = CliRunner().invoke(cli, ["ledger", "check", "--json"])
    assert ledger.exit_code == 0 and json.loads(ledger.output)["ok"] is True

    # HQ finance sees the open ones and resolves one with a note (audited); HQ operations may not look.
    store = staff_headers(client, session_factory, "ops", Role.HQ_OPS)
    assert client.get("/staff/reconciliation", headers=store).status_code == 403
    finance = staff_headers(client, session_factory, "finance", Role.HQ_FINANCE)
    page = client.get("/staff/reconciliation?lang=zh-CN", headers=finance)
    assert page.status_code == 200 and "金额不符" in page.text and "重复" in page.text
    assert page.text.count('data-testid="difference"') == 2
    with session_factory() as session:
        row = session.scalar(
            select(ReconciliationDifference).where(ReconciliationDifference.kind == "duplicate")
        )
        assert row is not None
        row_id = row.id
    forged = client.post(f"/staff/reconciliation/{row_id}/resolve", data={"note": "x"}, headers=finance)
    assert forged.status_code in (400, 403, 422)  # no CSRF token: refused
    done = client.post(
        f"/staff/reconciliation/{row_id}/resolve",
        data={
            "note": "second payment refunded at the WeChat Pay merchant console",
            "csrf_token": csrf_of(page.text),
        },
        headers=finance,
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    with session_factory() as session:
        row = session.get(ReconciliationDifference, row_id)
        assert row is not None and row.status == "resolved" and row.resolved_by.startswith("staff:")
        audited = session.scalar(
            select(func.count()).where(AuditEntry.action == "payment.reconciliation_resolve")
        )
        assert audited == 1

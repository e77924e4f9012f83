"""HQ sees the scheduled jobs on the console, and a failing ledger check as an alert (zh-CN and en)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.jobs import service
from carloop.jobs.registry import Job
from carloop.jobs.rules import JobResult
from carloop.network import service as network
from carloop.network.schemas import StoreKind

PASSWORD = "a-long-test-password-1"
HTML = {"Accept": "text/html"}


@pytest.fixture
def store_id(client: TestClient) -> int:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        store = network.create_store(
            session=s, code="BJ-DC-01", kind=StoreKind.DELIVERY_CENTRE, name_en="Beijing Delivery Centre",
            name_zh="北京交付中心", city="Beijing", province="Beijing",
        )  # fmt: skip
        for username, role, sid in (("ops", Role.HQ_OPS, None), ("store1", Role.STORE_STAFF, store.id)):
            accounts.create_staff(
                session=s, actor=None, username=username, display_name=username.title(), password=PASSWORD,
                role=role, store_id=sid,
            )  # fmt: skip
        return store.id


def sign_in(client: TestClient, username: str) -> None:
    token = client.post(
        "/api/v1/auth/staff/sign-in", json={"username": username, "password": PASSWORD}
    ).json()["token"]
    client.cookies.set("carloop_session", token)


def _failing_ledger_check(sessions, now):  # type: ignore[no-untyped-def]
    return JobResult.failed("1 problems: order 7: ledger 500001 fen, expected 500000")


@pytest.mark.usefixtures("store_id")
def test_a_failing_ledger_check_alerts_hq_on_the_console(client: TestClient) -> None:
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    job = Job("ledger_check", timedelta(days=1), _failing_ledger_check, "test")
    assert service.run_job(sessions, job, owner="test") is not None
    sign_in(client, "ops")
    zh = client.get("/console?lang=zh-CN", headers=HTML)
    assert zh.status_code == 200
    assert "账目核对未通过" in zh.text and "order 7: ledger 500001 fen" in zh.text
    assert "定时任务" in zh.text and "每日账目核对" in zh.text and "尚未运行" in zh.text
    en = client.get("/console?lang=en", headers=HTML)
    assert "The ledger check failed" in en.text and "Scheduled jobs" in en.text
    client.cookies.clear()
    sign_in(client, "store1")  # store staff do not run the business's books
    assert "job-alert" not in client.get("/console", headers=HTML).text

"""WeChat Pay fixtures shared by the API tests (payments, refunds, reconciliation): the local stand-in
served over HTTP, settings that choose it, and a client whose callbacks go through the server's lanes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.asgi import Served
from stand_ins.wechat import WeChatPayStandIn, serve

PUBLIC = "https://shop.carloop.test"
PRO = {"configuration": {"model": "su7", "trim": "pro", "options": ["paint-aqua-blue"]}}
NOTIFY = "/api/v1/payments/notify/wechat"
REFUND_NOTIFY = "/api/v1/payments/refunds/notify/wechat"
DESKTOP = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"}


@pytest.fixture
def wechat() -> Iterator[WeChatPayStandIn]:
    """WeChat Pay's API played locally, checking carloop's request signatures."""
    with serve(WeChatPayStandIn(public=PUBLIC)) as standin:
        yield standin


@pytest.fixture
def wx_settings(settings: Settings, wechat: WeChatPayStandIn) -> Settings:
    """The test settings with WeChat Pay (the stand-in's keys) as the payment provider."""
    return Settings(
        **{
            **settings.model_dump(),
            "payment_provider": "wechat",
            "public_base_url": PUBLIC,
            **wechat.settings(),
        }
    )


@pytest.fixture
def wx_client(wx_settings: Settings, engine: object) -> Iterator[TestClient]:
    """The app with WeChat Pay, served through its lanes (callbacks are captured as in production)."""
    app = create_app(wx_settings)
    with TestClient(Served(app), raise_server_exceptions=False) as c:
        yield c
    app.state.engine.dispose()


def reserve(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, *, phone: str, key: str
) -> tuple[str, dict[str, Any]]:
    """Sign ``phone`` in and reserve a Pro: (the session token, the created order's JSON body)."""
    with factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone=phone)
        session.flush()
        token, _ = accounts.start_session(session=session, settings=settings, customer=customer)
    bearer = {"Authorization": f"Bearer {token}"}
    made = client.post("/api/v1/orders", json=PRO, headers={**bearer, "Idempotency-Key": key})
    assert made.status_code == 201, made.text
    return str(token), made.json()

"""Inventory-car pages: a cancelled built car is offered to the next waiting buyer, who accepts it on
the page; HQ lists the stock; store staff and other buyers cannot."""

from __future__ import annotations

import pytest
from builders.production import publish_sample_plan
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_change_pages import HTML, _locked_order, _sign_in
from test_outlet_pages import _sign_in as _staff_sign_in
from test_outlet_pages import staff  # noqa: F401 - the fixture

from carloop.handlers import all_handlers
from carloop.ordering import service as ordering
from carloop.ordering.rules import OrderStatus
from carloop.outbox.service import dispatch
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.production import service as production
from carloop.production.models import InventoryCar
from carloop.production.rules import Stage


def _offered(client: TestClient) -> tuple[str, str]:
    publish_sample_plan(client.app.state.sessions)  # type: ignore[attr-defined]
    first, _ = _sign_in(client, "13700137000")
    built = _locked_order(client, first)
    second, _ = _sign_in(client, "13800138000")
    waiting = _locked_order(client, second)
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions.begin() as s:
        for stage in (Stage.IN_PRODUCTION, Stage.BUILT):
            production.advance_stage(session=s, number=built, stage=stage, actor="test")
        order = ordering.load(session=s, number=built, for_update=True)
        ordering.cancel(
            session=s, provider=SimulatorProvider(secret="s"), order=order, actor="test", accept_forfeit=True
        )
    while dispatch(sessions, all_handlers()):
        pass
    return built, waiting


@pytest.mark.usefixtures("staff")
def test_the_waiting_buyer_takes_the_offered_car_and_hq_sees_the_stock(client: TestClient) -> None:
    built, waiting = _offered(client)
    _, csrf = _sign_in(client, "13800138000")
    order_page = client.get(f"/orders/{waiting}?lang=zh-CN", headers=HTML)
    assert 'data-testid="offer-link"' in order_page.text
    offer = client.get(f"/orders/{waiting}/offer?lang=zh-CN", headers=HTML)
    assert offer.status_code == 200 and "提取这台车" in offer.text
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        car = s.scalar(select(InventoryCar))
        assert car is not None
    unticked = client.post(f"/orders/{waiting}/offer/{car.id}/accept?lang=zh-CN", data={"csrf_token": csrf})
    assert unticked.status_code == 422 and "请勾选确认" in unticked.text
    taken = client.post(
        f"/orders/{waiting}/offer/{car.id}/accept",
        data={"csrf_token": csrf, "acknowledge": "true"},
        follow_redirects=False,
    )
    assert taken.status_code == 303
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        assert ordering.load(session=s, number=waiting).status is OrderStatus.BUILT
    again = client.post(
        f"/orders/{waiting}/offer/{car.id}/accept", data={"csrf_token": csrf, "acknowledge": "true"}
    )
    assert again.status_code == 409  # the offer has ended
    _staff_sign_in(client, "store1")
    assert client.get("/staff/inventory", headers=HTML).status_code == 403
    _staff_sign_in(client, "hq")
    stock = client.get("/staff/inventory?lang=zh-CN", headers=HTML)
    assert stock.status_code == 200 and car.vin in stock.text and "已售出" in stock.text
    del built


@pytest.mark.usefixtures("staff")
def test_someone_elses_offer_is_not_found(client: TestClient) -> None:
    _, waiting = _offered(client)
    _, csrf = _sign_in(client, "13900139000")
    assert client.get(f"/orders/{waiting}/offer", headers=HTML).status_code == 404
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        car = s.scalar(select(InventoryCar))
        assert car is not None
    refused = client.post(
        f"/orders/{waiting}/offer/{car.id}/accept", data={"csrf_token": csrf, "acknowledge": "true"}
    )
    assert refused.status_code == 404

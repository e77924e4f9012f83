"""HQ's shop catalogue page: products with prices, stock moved by deltas with a reason (never below
zero, never overwriting checkouts), audited; store staff may not."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_outlet_pages import _sign_in, staff  # noqa: F401 - the fixture

from carloop.audit.models import AuditEntry
from carloop.loyalty.models import Product

HTML = {"Accept": "text/html"}


@pytest.mark.usefixtures("staff")
def test_hq_adds_a_product_and_moves_its_stock_with_a_reason(client: TestClient) -> None:
    csrf = _sign_in(client, "hq")
    form = {"csrf_token": csrf, "sku": "CAP-01", "name_zh": "棒球帽", "name_en": "Cap", "price_points": "500"}
    assert client.post("/staff/shop/products", data=form, follow_redirects=False).status_code == 303
    moves = [("20", "到货", 303), ("-25", "盘点", 422), ("-5", "", 422), ("-5", "损坏", 303)]
    for delta, reason, status in moves:
        response = client.post(
            "/staff/shop/products/CAP-01/stock?lang=zh-CN",
            data={"csrf_token": csrf, "delta": delta, "reason": reason},
            headers=HTML,
            follow_redirects=False,
        )
        assert response.status_code == status, (delta, reason, response.text[:300])
    page = client.get("/staff/shop?lang=zh-CN", headers=HTML)
    assert (
        page.status_code == 200
        and "商城商品与库存" in page.text
        and 'data-testid="stock-CAP-01">15<' in page.text
    )
    short = client.post(
        "/staff/shop/products/CAP-01/stock?lang=zh-CN",
        data={"csrf_token": csrf, "delta": "-99", "reason": "盘点"},
    )
    assert "库存不足" in short.text
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(Product.stock).where(Product.sku == "CAP-01")) == 15
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == "CAP-01")).all()
        assert actions == ["shop.product.create", "shop.stock.adjust", "shop.stock.adjust"]
    assert (
        client.post(
            "/staff/shop/products/NOPE/stock", data={"csrf_token": csrf, "delta": "1", "reason": "x"}
        ).status_code
        == 404
    )


@pytest.mark.usefixtures("staff")
def test_store_staff_may_not_touch_the_catalogue(client: TestClient) -> None:
    csrf = _sign_in(client, "store1")
    assert client.get("/staff/shop", headers=HTML).status_code == 403
    form = {"csrf_token": csrf, "sku": "CAP-01", "name_zh": "帽", "name_en": "Cap", "price_points": "1"}
    assert client.post("/staff/shop/products", data=form, headers=HTML).status_code == 403

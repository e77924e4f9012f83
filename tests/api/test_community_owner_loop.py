"""The owner loop's "Done when", end to end over HTTP.

An owner whose car was delivered finds points already credited, spends some in the shop (points, then
points + cash through the payment provider), posts a suggestion that is flagged as a likely duplicate
while typing, votes, is notified as staff move it to shipped and asked whether it solved the problem;
staff merge and unmerge duplicates; and the owner's points never go negative under concurrent
redemptions (threads; on PostgreSQL when CARLOOP_TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from builders.accounts import customer_headers, staff_headers
from builders.ordering import deliver, locked_order
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Role
from carloop.community import index
from carloop.errors import PolicyViolation
from carloop.handlers import all_handlers
from carloop.loyalty import ledger as points_ledger
from carloop.loyalty import service, shop
from carloop.loyalty.rules import EARN_RULES, EarnReason
from carloop.outbox.service import dispatch
from carloop.payments import ledger as money_ledger
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.settings import Settings

DELIVERY = EARN_RULES[EarnReason.DELIVERY].points


@pytest.fixture(autouse=True)
def _fresh_similar_index() -> Iterator[None]:
    index._STATES.clear()  # PostgreSQL tests reuse one database URL with ids restarted
    yield
    index._STATES.clear()


def test_the_owner_loop_done_when(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    owner = customer_headers(client, "13800138000")
    me = client.get("/api/v1/me", headers=owner).json()["customer_id"]
    ops = staff_headers(client, session_factory, "ops", Role.HQ_OPS)
    with session_factory.begin() as session:
        shop.add_product(
            session=session,
            sku="MUG",
            name_zh="马克杯",
            name_en="Mug",
            price_points=800,
            stock=10,
            price_fen=5900,
        )

    # 1. The car is delivered: the points are already there.
    deliver(session_factory, locked_order(session_factory, me))
    dispatch(session_factory, all_handlers())
    assert client.get("/api/v1/points/me", headers=owner).json()["balance"] == DELIVERY

    # 2. Spend some: one mug in points, one in points + cash paid through the simulator's signed notification.
    bought = client.post(
        "/api/v1/shop/orders", json={"items": [{"sku": "MUG", "quantity": 1}]}, headers=owner
    )
    assert bought.json()["status"] == "paid"
    mixed = client.post(
        "/api/v1/shop/orders", json={"items": [{"sku": "MUG", "quantity": 1}], "points": 400}, headers=owner
    ).json()
    assert mixed["status"] == "awaiting_payment" and mixed["cash_fen"] == 2950
    provider = SimulatorProvider.from_settings(settings)
    trade_no = mixed["pay_url"].rsplit("/", 1)[1]
    form = provider.signed_notification(
        trade_no=trade_no, amount_fen=2950, status=NotificationStatus.SUCCEEDED
    )
    assert client.post("/api/v1/payments/notify/simulator", data=form).text == "success"
    assert client.get(f"/api/v1/shop/orders/{mixed['number']}", headers=owner).json()["status"] == "paid"
    assert client.get("/api/v1/points/me", headers=owner).json()["balance"] == DELIVERY - 1200

    # 3. A suggestion: while typing, the likely duplicate is flagged.
    other = customer_headers(client, "13800138001")
    existing = client.post(
        "/api/v1/suggestions", json={"title": "冬天续航衰减太明显", "category": "charging"}, headers=other
    ).json()["id"]
    typing = client.get(
        "/api/v1/suggestions/similar", params={"q": "range drops a lot in cold weather"}, headers=owner
    ).json()
    assert typing and typing[0]["id"] == existing
    mine = client.post(
        "/api/v1/suggestions",
        json={"title": "Range drops a lot in cold weather", "category": "charging"},
        headers=owner,
    ).json()["id"]

    # 4. Staff merge the two and unmerge them; then merge for good, and the owner votes on the kept one.
    merged = client.post(f"/api/v1/staff/suggestions/{mine}/merge", json={"into": existing}, headers=ops)
    assert merged.status_code == 200, merged.text
    redirect = client.get(f"/api/v1/suggestions/{mine}", headers=owner, follow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["location"].endswith(f"/{existing}")
    assert client.post(f"/api/v1/staff/suggestions/{mine}/unmerge", headers=ops).status_code == 200
    assert client.get(f"/api/v1/suggestions/{mine}", headers=owner, follow_redirects=False).status_code == 200
    client.post(f"/api/v1/staff/suggestions/{mine}/merge", json={"into": existing}, headers=ops)
    voted = client.post(f"/api/v1/suggestions/{existing}/votes", headers=owner).json()
    assert voted["votes"] == 1

    # 5. Staff move it along to shipped; the owner hears of every step and is asked if it solved it.
    for status in ("under_review", "planned", "in_development", "shipped"):
        moved = client.post(
            f"/api/v1/staff/suggestions/{existing}/status", json={"status": status}, headers=ops
        )
        assert moved.status_code == 200, moved.text
    kinds = [n["kind"] for n in client.get("/api/v1/notices", headers=owner).json()]
    assert "solved_question" in kinds and kinds.count("status_changed") >= 4
    answer = client.post(f"/api/v1/suggestions/{existing}/solved", json={"solved": True}, headers=owner)
    assert answer.json()["yes"] == 1

    # 6. Concurrent redemptions never overdraw the owner's points.
    balance = client.get("/api/v1/points/me", headers=owner).json()["balance"]
    each = 1000
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def redeem(i: int) -> None:
        start.wait()
        try:
            with session_factory.begin() as session:
                service.spend_points(session=session, customer_id=me, points=each, key=f"race{i}")
            outcomes.append("ok")
        except PolicyViolation:
            outcomes.append("short")

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == min(6, balance // each)
    with session_factory() as session:
        assert service.balance(session=session, customer_id=me) == balance - outcomes.count("ok") * each >= 0
        assert points_ledger.check(session=session).ok
        assert money_ledger.check(session=session).ok

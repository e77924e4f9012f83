"""The app with CARLOOP_EVENT_BUS on NATS: reserve and pay over HTTP, the domains react exactly once."""

from __future__ import annotations

import asyncio
import time

import nats
from builders.accounts import customer_headers
from builders.ordering import deliver
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from carloop.analytics.models import FunnelEvent
from carloop.analytics.rules import Stage
from carloop.bus.jetstream import BusConfig
from carloop.bus.models import ProcessedEvent
from carloop.loyalty.rules import EARN_RULES, EarnReason
from carloop.ordering import rules as order_rules
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.outbox.models import OutboxEvent
from carloop.payments.providers.base import NotificationStatus
from carloop.settings import Settings

CONFIG = {"configuration": {"model": "su7", "trim": "pro", "options": []}}
DELIVERY = EARN_RULES[EarnReason.DELIVERY].points
CONSUMERS = ("analytics", "loyalty")


def _drained(factory: sessionmaker[Session], url: str, bus: BusConfig) -> bool:
    """Every outbox row relayed, and nothing waiting for or in the hands of analytics and loyalty."""
    with factory() as session:
        if session.scalar(select(func.count()).where(OutboxEvent.relayed_at.is_(None))):
            return False

    async def waiting() -> int:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            total = 0
            for name in CONSUMERS:
                info = await js.consumer_info(bus.stream, name)
                total += info.num_pending + info.num_ack_pending
            return total
        finally:
            await nc.close()

    return asyncio.run(waiting()) == 0


def _wait(factory: sessionmaker[Session], url: str, bus: BusConfig) -> None:
    for _ in range(600):  # a safety net for a broken build, not a measurement
        if _drained(factory, url, bus):
            return
        time.sleep(0.05)
    raise AssertionError("the bus did not drain")


def _lock(factory: sessionmaker[Session], number: str) -> int:
    with factory.begin() as session:
        order = ordering.load(session=session, number=number)
        confirmation = order_rules.LockConfirmation(
            True, order.deposit_fen, ordering.configuration_summary(order)
        )
        ordering.lock(session=session, order=order, confirmation=confirmation, actor="t")
        return order.id


def test_reserve_and_pay_over_http_on_the_nats_bus_award_points_and_count_the_funnel_once(
    settings: Settings, session_factory: sessionmaker[Session], nats_url: str, bus: BusConfig
) -> None:
    from carloop.web.app import create_app
    from carloop.web.asgi import Served

    on_nats = settings.model_copy(
        update={
            "event_bus": nats_url,
            "event_stream": bus.stream,
            "event_subject_prefix": bus.prefix,
            "outbox_interval": 0.05,
        }
    )
    app = create_app(on_nats)
    try:
        with TestClient(Served(app), raise_server_exceptions=False) as client:
            buyer = customer_headers(client, "13800138000")
            made = client.post("/api/v1/orders", json=CONFIG, headers=buyer)
            assert made.status_code == 201, made.text
            payment = made.json()["payment"]
            provider = app.state.payment_provider
            form = provider.signed_notification(
                trade_no=payment["trade_no"],
                amount_fen=payment["amount_fen"],
                status=NotificationStatus.SUCCEEDED,
            )
            assert client.post("/api/v1/payments/notify/simulator", data=form).text == "success"
            assert client.post("/api/v1/payments/notify/simulator", data=form).text == "success"  # replay
            number = made.json()["order"]["number"]
            deliver(session_factory, _lock(session_factory, number))
            _wait(session_factory, nats_url, bus)
            # a relay restarted with every row unmarked publishes them all again: nothing doubles
            with session_factory.begin() as session:
                session.execute(update(OutboxEvent).values(relayed_at=None))
            _wait(session_factory, nats_url, bus)
            points = client.get("/api/v1/points/me", headers=buyer).json()
    finally:
        app.state.engine.dispose()
    assert points["balance"] == DELIVERY
    assert [h["reason"] for h in points["history"]] == ["delivery"]
    with session_factory() as session:
        order_id = session.scalars(select(Order.id).where(Order.number == number)).one()
        stages = sorted(
            str(s) for s in session.scalars(select(FunnelEvent.stage).where(FunnelEvent.order_id == order_id))
        )
        assert stages.count(str(Stage.PAID)) == 1
        assert stages.count(str(Stage.LOCKED)) == 1
        assert stages.count(str(Stage.DELIVERED)) == 1
        query = select(ProcessedEvent.consumer, func.count()).group_by(ProcessedEvent.consumer)
        handled: dict[str, int] = {name: count for name, count in session.execute(query)}
        names = list(session.scalars(select(OutboxEvent.name)))
        assert handled["analytics"] == names.count("order.status_changed") >= 3
        assert handled["loyalty"] == names.count("order.delivered") + names.count("order.locked") == 2
        assert session.scalar(select(func.count()).where(OutboxEvent.handled_at.is_not(None))) == 0

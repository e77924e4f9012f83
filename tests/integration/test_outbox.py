"""Order transitions publish events in their own transaction; the dispatcher hands them on once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.catalog.schemas import ConfigurationIn
from carloop.ordering import rules
from carloop.ordering import service as ordering
from carloop.outbox.models import OutboxEvent
from carloop.outbox.service import dispatch
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider


def _locked_order(factory: sessionmaker[Session]) -> int:
    provider = SimulatorProvider(secret="s")
    with factory.begin() as session:
        buyer = accounts.get_or_create_customer(session=session, phone="13800138000")
        order = ordering.reserve(
            session=session, customer_id=buyer.id, config=ConfigurationIn(model="su7", trim="pro")
        )
        payment = ordering.start_deposit_payment(
            session=session, provider=provider, order=order, base_url="http://t/"
        )
        form = provider.signed_notification(
            trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
        )
        ordering.handle_notification(session=session, provider=provider, form=form)
        confirmation = rules.LockConfirmation(True, order.deposit_fen, ordering.configuration_summary(order))
        ordering.lock(session=session, order=order, confirmation=confirmation, actor="t")
        return order.id


def test_transitions_are_published_with_the_change(session_factory: sessionmaker[Session]) -> None:
    order_id = _locked_order(session_factory)
    with session_factory() as session:
        names = [e.name for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]
        locked = session.scalars(select(OutboxEvent).where(OutboxEvent.name == "order.locked")).one()
    assert names == ["receipts.issued", "order.status_changed", "order.status_changed", "order.locked"]
    assert locked.payload["order_id"] == order_id and locked.payload["trim"] == "pro"


def test_dispatch_runs_each_handler_once(session_factory: sessionmaker[Session]) -> None:
    _locked_order(session_factory)
    seen: list[tuple[str, Any]] = []

    def on_locked(session: Session, payload: Mapping[str, Any]) -> None:
        seen.append(("locked", payload["number"]))

    handlers = {"order.locked": [on_locked]}
    assert dispatch(session_factory, handlers) == 4
    assert dispatch(session_factory, handlers) == 0
    assert len(seen) == 1


def test_a_failing_handler_leaves_the_event_pending_with_its_error(
    session_factory: sessionmaker[Session],
) -> None:
    _locked_order(session_factory)

    def broken(session: Session, payload: Mapping[str, Any]) -> None:
        raise RuntimeError("points service down")

    assert dispatch(session_factory, {"order.locked": [broken]}) == 3
    with session_factory() as session:
        row = session.scalars(select(OutboxEvent).where(OutboxEvent.name == "order.locked")).one()
    assert row.handled_at is None and row.attempts == 1 and "points service down" in row.last_error
    assert dispatch(session_factory, {"order.locked": []}) == 1

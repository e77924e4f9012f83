"""Builders for ordering tests: a buyer, the simulator, and a paid order."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.catalog.schemas import ConfigurationIn
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.payments.models import Payment
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider

BASE = "http://testserver/"
_identities = itertools.count(1)


@pytest.fixture
def provider() -> SimulatorProvider:
    """The simulator with a test secret."""
    return SimulatorProvider(secret="test-secret")


@pytest.fixture
def buyer_id(session: Session) -> int:
    """A customer's id."""
    return accounts.get_or_create_customer(session=session, phone="13800138000").id


def reserve(
    session: Session, buyer_id: int, model: str = "su7", trim: str = "pro", identity: str | None = None
) -> Order:
    """An order waiting for its deposit (an edition order gets a fresh verified identity unless given)."""
    return ordering.reserve(
        session=session,
        customer_id=buyer_id,
        config=ConfigurationIn(model=model, trim=trim),
        identity_hash=identity or f"identity-{next(_identities)}",
    )


def start(session: Session, provider: SimulatorProvider, order: Order) -> Payment:
    """The order's pending deposit payment."""
    return ordering.start_deposit_payment(session=session, provider=provider, order=order, base_url=BASE)


def notify(
    session: Session,
    provider: SimulatorProvider,
    payment: Payment,
    status: NotificationStatus = NotificationStatus.SUCCEEDED,
) -> dict[str, str]:
    """Deliver a signed simulator notification for a payment; returns the form (to replay it)."""
    form = provider.signed_notification(
        trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=status
    )
    ordering.handle_notification(session=session, provider=provider, form=form)
    return form


def paid_order(session: Session, provider: SimulatorProvider, buyer_id: int, **kw: Any) -> Order:
    """A reserved (or, for an edition, locked) order with its deposit paid."""
    order = reserve(session, buyer_id, **kw)
    notify(session, provider, start(session, provider, order))
    return order

"""Builders for reservation tests: requests as the lane builds them, and their results as answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import utcnow
from carloop.errors import DomainError
from carloop.ordering import reservations
from carloop.ordering.reservations import Reservation, ReservationRequest
from carloop.payments import captures
from carloop.payments.models import PaymentPurpose
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.web import problems
from carloop.web.captures import CAPTURE_HANDLERS

PROVIDER = SimulatorProvider(secret="test-secret")


def ticket(
    customer_id: int, key: str, trim: str = "pro", identity: str | None = None, model: str = "su7"
) -> ReservationRequest:
    """A reservation request of a known buyer, as the pages, the API and the lane hand it over."""
    return ReservationRequest(
        config=ConfigurationIn(model=model, trim=trim),
        customer_id=customer_id,
        scope=f"customer:{customer_id}",
        key=key,
        identity_hash=identity,
        request_hash=hashlib.sha256(f"{model}/{trim}/{identity}".encode()).hexdigest(),
    )


@dataclass
class Outcome:
    """A result as a status and a body (what the lane would answer), to compare answers simply."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False


def outcome(result: Reservation | DomainError) -> Outcome:
    """The answer a reservation result stands for."""
    if isinstance(result, DomainError):
        return Outcome(problems.status_for(result), {"code": str(result.code), **result.data})
    body = {
        "number": result.number,
        "status": str(result.status),
        "model": result.model,
        "queue_position": result.queue_position,
        "edition_number": result.edition_number,
        "trade_no": result.trade_no,
        "deposit_fen": result.deposit_fen,
    }
    return Outcome(201, body, result.replayed)


def store(session: Session, tickets: list[ReservationRequest]) -> list[Outcome]:
    """One batch through ``reserve_many`` in the caller's transaction."""
    results = reservations.reserve_many(session=session, provider=PROVIDER, requests=tickets, now=utcnow())
    return [outcome(r) for r in results]


def pay(
    session: Session, *answers: Outcome, status: NotificationStatus = NotificationStatus.SUCCEEDED
) -> None:
    """The provider's signed notifications for these reservations' deposits, captured in one batch."""
    forms = [
        PROVIDER.signed_notification(
            trade_no=a.body["trade_no"], amount_fen=a.body["deposit_fen"], status=status
        )
        for a in answers
    ]
    results = captures.capture_many(
        session=session, provider=PROVIDER, forms=forms, handlers=CAPTURE_HANDLERS
    )
    assert not [r for r in results if isinstance(r, DomainError)], results


__all__ = ["PROVIDER", "Outcome", "PaymentPurpose", "outcome", "pay", "store", "ticket"]

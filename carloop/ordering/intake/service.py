"""Reserve through the launch intake from a page handler (in-process, same rules and batch)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from carloop.clock import utcnow
from carloop.ordering.intake.prepare import IntakeOrderCreate, prepare_ticket, problem
from carloop.ordering.intake.store import Outcome, store_batch
from carloop.ordering.intake.writer import busy_outcome
from carloop.payments.providers.simulator import SimulatorProvider


def reserve_now(
    *, request: Request, session: Session, body: IntakeOrderCreate, customer_id: int, actor: str, key: str
) -> Outcome:
    """Store a page's reservation as a batch of one in the request's transaction, unless the queue is full.

    A page request already holds its transaction (on SQLite, the write lock), so it does not wait for
    the writer thread; it shares the writer's back-pressure and the same rules and batch code.
    """
    intake = getattr(request.app.state, "intake", None)
    writer = getattr(intake, "writer", None)
    if writer is not None and writer.overloaded():
        return busy_outcome()
    identity_key = request.app.state.settings.secret_key.get_secret_value().encode()
    prepared = prepare_ticket(
        body=body, customer_id=customer_id, actor=actor, key=key, identity_key=identity_key
    )
    if isinstance(prepared, Outcome):
        return prepared
    provider = request.app.state.payment_provider
    if not isinstance(provider, SimulatorProvider):
        return problem(503, "intake-unavailable", "The launch queue needs the payment simulator.")
    return store_batch(session=session, tickets=[prepared], provider=provider, now=utcnow())[0]

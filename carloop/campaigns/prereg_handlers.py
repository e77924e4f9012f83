"""Pre-registration's reactions to other domains' events (run after commit by the outbox)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from carloop.accounts.events import CustomerSignedIn
from carloop.campaigns import registrations
from carloop.outbox.service import Handler


def on_customer_signed_in(session: Session, payload: Mapping[str, Any]) -> None:
    """Link the phone's registrations to the account that signed in with it (idempotent)."""
    registrations.link_to_account(
        session=session, customer_id=int(payload["customer_id"]), phone=str(payload["phone"])
    )


EVENT_HANDLERS: dict[str, list[Handler]] = {
    CustomerSignedIn.name: [on_customer_signed_in],
}

"""What happens to accounts, as events other domains react to (after commit, via the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class CustomerSignedIn:
    """A buyer proved their phone with a code and has a session (new accounts included)."""

    name: ClassVar[str] = "customer.signed_in"
    customer_id: int
    phone: str

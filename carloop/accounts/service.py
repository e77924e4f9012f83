"""Accounts use cases (stub until the accounts work lands)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal


def resolve_session(*, session: Session, token: str) -> Principal | None:
    """The principal behind a session token, or None if it is unknown or expired."""
    return None

"""Sessions: tokens stored as hashes, resolved until they expire or are signed out."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.accounts import service
from carloop.accounts.models import SessionToken
from carloop.accounts.rules import token_digest
from carloop.accounts.schemas import Role
from carloop.clock import utcnow
from carloop.network.models import Store
from carloop.settings import Settings

from .conftest import as_principal, make_staff


def _customer_session(session: Session, settings: Settings, now: datetime | None = None) -> str:
    customer = service.get_or_create_customer(session=session, phone="13800138000")
    token, _ = service.start_session(session=session, settings=settings, customer=customer, now=now)
    return token


def test_only_the_hash_of_a_token_is_stored(session: Session, settings: Settings) -> None:
    token = _customer_session(session, settings)
    stored = session.scalars(select(SessionToken.token_hash)).one()
    assert stored == token_digest(token)
    assert stored != token


def test_a_token_resolves_to_its_principal(session: Session, settings: Settings) -> None:
    token = _customer_session(session, settings)
    principal = service.resolve_session(session=session, token=token)
    assert principal is not None
    assert principal.role is Role.CUSTOMER
    assert principal.session_id is not None


def test_unknown_or_absurd_tokens_resolve_to_nobody(session: Session, settings: Settings) -> None:
    _customer_session(session, settings)
    assert service.resolve_session(session=session, token="not-a-token") is None
    assert service.resolve_session(session=session, token="x" * 10_000) is None
    assert service.resolve_session(session=session, token="") is None


def test_a_session_expires(session: Session, settings: Settings) -> None:
    started = utcnow() - timedelta(hours=settings.session_ttl_hours, seconds=1)
    token = _customer_session(session, settings, now=started)
    assert service.resolve_session(session=session, token=token) is None
    assert service.resolve_session(session=session, token=token, now=started + timedelta(hours=1)) is not None


def test_signing_out_ends_the_session_and_is_harmless_twice(session: Session, settings: Settings) -> None:
    token = _customer_session(session, settings)
    other = _customer_session(session, settings)
    service.sign_out(session=session, token=token)
    service.sign_out(session=session, token=token)
    assert service.resolve_session(session=session, token=token) is None
    assert service.resolve_session(session=session, token=other) is not None


def test_a_staff_session_carries_role_and_store(session: Session, settings: Settings, store: Store) -> None:
    staff = make_staff(session, "store1", Role.STORE_STAFF, store.id)
    token, principal = service.start_session(session=session, settings=settings, staff=staff)
    resolved = service.resolve_session(session=session, token=token)
    assert resolved == principal
    assert (resolved.role, resolved.store_id, resolved.staff_id) == (Role.STORE_STAFF, store.id, staff.id)
    assert resolved.actor == f"staff:{staff.id}"


def test_a_role_change_shows_on_the_next_request(session: Session, settings: Settings) -> None:
    staff = make_staff(session, "ops")
    admin = as_principal(make_staff(session, "admin", Role.ADMIN))
    token, _ = service.start_session(session=session, settings=settings, staff=staff)
    service.set_role(session=session, actor=admin, staff_id=staff.id, role=Role.ADMIN)
    resolved = service.resolve_session(session=session, token=token)
    assert resolved is not None
    assert resolved.role is Role.ADMIN


def test_deactivated_staff_lose_their_sessions(session: Session, settings: Settings) -> None:
    staff = make_staff(session, "ops")
    admin = as_principal(make_staff(session, "admin", Role.ADMIN))
    token, _ = service.start_session(session=session, settings=settings, staff=staff)
    service.update_staff(session=session, actor=admin, staff_id=staff.id, active=False)
    assert service.resolve_session(session=session, token=token) is None
    revoked = session.scalars(select(SessionToken.revoked_at).where(SessionToken.staff_id == staff.id)).one()
    assert revoked is not None

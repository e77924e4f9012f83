"""The demo seed: two stores, four staff logins and the demo buyer, created once."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.accounts import service
from carloop.accounts.demo import DEMO_CUSTOMER_PHONE, seed_demo_accounts
from carloop.accounts.models import Customer, Staff
from carloop.accounts.schemas import Role
from carloop.audit.models import AuditEntry
from carloop.network.models import Store
from carloop.settings import Settings


def _counts(session: Session) -> tuple[int | None, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(t)) for t in (Store, Staff, Customer, AuditEntry)
    )


def test_seeding_twice_creates_nothing_new(session: Session) -> None:
    first = seed_demo_accounts(session=session)
    counts = _counts(session)
    assert counts[:3] == (2, 4, 1)
    assert seed_demo_accounts(session=session) == first
    assert _counts(session) == counts


def test_every_demo_staff_login_works_with_its_role_and_store(session: Session, settings: Settings) -> None:
    logins = seed_demo_accounts(session=session)
    roomy = settings.model_copy(update={"login_attempts_per_window": 100})
    stores = set()
    for login in logins:
        if login.role is Role.CUSTOMER:
            assert login.username == DEMO_CUSTOMER_PHONE
            continue
        _, principal = service.sign_in_staff(
            session=session, settings=roomy, username=login.username, password=login.secret, ip=None
        )
        assert principal.role is login.role
        assert (principal.store_id is not None) == (login.role is Role.STORE_STAFF)
        stores.add(principal.store_id)
    assert {login.username for login in logins} == {"admin", "ops", "store1", "store2", DEMO_CUSTOMER_PHONE}
    assert len(stores - {None}) == 2  # store1 and store2 work at different stores
    assert service.find_customer(session=session, phone=DEMO_CUSTOMER_PHONE) is not None

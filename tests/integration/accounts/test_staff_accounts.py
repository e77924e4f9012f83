"""Staff: password sign-in, and accounts managed by admins with every change audited."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from carloop.accounts import service
from carloop.accounts import staff as staff_accounts
from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.errors import AuthenticationFailed, Conflict, PermissionDenied, PolicyViolation
from carloop.network.models import Store
from carloop.settings import Settings

from .conftest import PASSWORD, as_principal, make_staff


@pytest.fixture
def admin(session: Session) -> Principal:
    """An admin's principal."""
    return as_principal(make_staff(session, "admin", Role.ADMIN))


def test_staff_sign_in_with_the_right_password(session: Session, settings: Settings, store: Store) -> None:
    staff = make_staff(session, "store1", Role.STORE_STAFF, store.id)
    token, principal = service.sign_in_staff(
        session=session, settings=settings, username=" Store1 ", password=PASSWORD, ip="10.0.0.1"
    )
    assert (principal.role, principal.staff_id, principal.store_id) == (Role.STORE_STAFF, staff.id, store.id)
    assert service.resolve_session(session=session, token=token) == principal
    [entry] = audit.list_entries(session=session, action="staff.signed_in")
    assert (entry.actor, entry.target_id, entry.ip) == (f"staff:{staff.id}", str(staff.id), "10.0.0.1")


def test_passwords_are_stored_as_argon2_hashes(session: Session) -> None:
    staff = make_staff(session, "ops")
    assert staff.password_hash.startswith("$argon2id$")
    assert PASSWORD not in staff.password_hash
    assert PasswordHasher().verify(staff.password_hash, PASSWORD)


@pytest.mark.parametrize(("username", "password"), [("ops", "wrong-password"), ("ghost", PASSWORD), ("", "")])
def test_wrong_password_and_unknown_user_get_the_same_answer(
    session: Session, settings: Settings, username: str, password: str
) -> None:
    make_staff(session, "ops")
    with pytest.raises(AuthenticationFailed) as refused:
        service.sign_in_staff(
            session=session, settings=settings, username=username, password=password, ip=None
        )
    assert refused.value.message == "Wrong username or password."


def test_inactive_staff_cannot_sign_in(session: Session, settings: Settings, admin: Principal) -> None:
    staff = make_staff(session, "ops")
    service.update_staff(session=session, actor=admin, staff_id=staff.id, active=False)
    with pytest.raises(AuthenticationFailed):
        service.sign_in_staff(session=session, settings=settings, username="ops", password=PASSWORD, ip=None)


def test_creating_staff_is_audited(session: Session, admin: Principal, store: Store) -> None:
    staff = service.create_staff(
        session=session,
        actor=admin,
        username="store9",
        display_name="Wang",
        password=PASSWORD,
        role=Role.STORE_STAFF,
        store_id=store.id,
        ip="10.0.0.7",
    )
    [entry] = audit.list_entries(session=session, target_type="staff", target_id=staff.id)
    assert (entry.action, entry.actor, entry.role, entry.ip) == (
        "staff.created",
        admin.actor,
        "admin",
        "10.0.0.7",
    )
    assert entry.detail == {"username": "store9", "role": "store_staff", "store_id": store.id}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"username": "x y"}, "username"),
        ({"password": "short"}, "password"),
        ({"role": Role.CUSTOMER}, "role"),
        ({"role": Role.STORE_STAFF}, "store_id"),
        ({"role": Role.STORE_STAFF, "store_id": 999}, "store_id"),
        ({"display_name": "x" * 61}, "display_name"),
    ],
)
def test_invalid_staff_accounts_are_refused_naming_the_field(
    session: Session, admin: Principal, changes: dict[str, object], field: str
) -> None:
    fields: dict[str, object] = {
        "username": "new1",
        "display_name": "New",
        "password": PASSWORD,
        "role": Role.HQ_OPS,
        **changes,
    }
    with pytest.raises(PolicyViolation) as refused:
        service.create_staff(session=session, actor=admin, **fields)  # type: ignore[arg-type]
    assert refused.value.data["field"] == field


def test_usernames_are_unique_whatever_the_case(session: Session, admin: Principal) -> None:
    make_staff(session, "ops")
    with pytest.raises(Conflict):
        service.create_staff(
            session=session,
            actor=admin,
            username="OPS",
            display_name="Ops",
            password=PASSWORD,
            role=Role.HQ_OPS,
        )


@pytest.mark.parametrize("role", [Role.HQ_OPS, Role.STORE_STAFF, Role.CUSTOMER])
def test_only_admins_manage_staff(session: Session, store: Store, role: Role) -> None:
    staff = make_staff(session, "ops")
    actor = Principal(role=role, staff_id=99, store_id=store.id)
    with pytest.raises(PermissionDenied):
        service.set_role(session=session, actor=actor, staff_id=staff.id, role=Role.ADMIN)
    with pytest.raises(PermissionDenied):
        service.create_staff(
            session=session, actor=actor, username="x1", display_name="X", password=PASSWORD, role=Role.HQ_OPS
        )


def test_set_role_moves_staff_and_is_audited(session: Session, admin: Principal, store: Store) -> None:
    staff = make_staff(session, "ops")
    service.set_role(
        session=session, actor=admin, staff_id=staff.id, role=Role.STORE_STAFF, store_id=store.id
    )
    assert (staff.role, staff.store_id) == (Role.STORE_STAFF, store.id)
    service.set_role(session=session, actor=admin, staff_id=staff.id, role=Role.HQ_OPS)
    assert (staff.role, staff.store_id) == (Role.HQ_OPS, None)
    entries = audit.list_entries(session=session, action="staff.updated", target_id=staff.id)
    assert [e.detail["changes"]["role"] for e in entries] == [
        ["store_staff", "hq_ops"],
        ["hq_ops", "store_staff"],
    ]
    assert entries[0].detail["changes"]["store_id"] == [store.id, None]


def test_an_update_that_changes_nothing_is_not_audited(session: Session, admin: Principal) -> None:
    staff = make_staff(session, "ops")
    service.update_staff(session=session, actor=admin, staff_id=staff.id, role=Role.HQ_OPS, active=True)
    assert audit.list_entries(session=session, action="staff.updated") == []


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(session: Session, admin: Principal) -> None:
    assert admin.staff_id is not None
    with pytest.raises(PolicyViolation, match="at least one active admin"):
        service.set_role(session=session, actor=admin, staff_id=admin.staff_id, role=Role.HQ_OPS)
    with pytest.raises(PolicyViolation):
        service.update_staff(session=session, actor=admin, staff_id=admin.staff_id, active=False)
    second = make_staff(session, "admin2", Role.ADMIN)
    service.update_staff(session=session, actor=admin, staff_id=second.id, active=False)
    assert not second.active


def test_a_domain_switches_an_account_off_without_an_admin_and_audits_it_itself(
    session: Session, admin: Principal
) -> None:
    assert admin.staff_id is not None
    portal = make_staff(session, "portal")
    off = staff_accounts.set_active(session=session, staff_id=portal.id, active=False)
    assert not off.active
    assert audit.list_entries(session=session, action="staff.updated") == []  # the caller records its own
    with pytest.raises(PolicyViolation, match="at least one active admin"):
        staff_accounts.set_active(session=session, staff_id=admin.staff_id, active=False)

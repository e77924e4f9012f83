"""Staff account use cases: passwords, creating accounts, roles and stores (admin only, audited)."""

from __future__ import annotations

from enum import Enum
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from carloop.accounts import rules
from carloop.accounts.models import SessionToken, Staff
from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.clock import utcnow
from carloop.errors import Conflict, NotFound, PermissionDenied, PolicyViolation

_hasher = PasswordHasher()


class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET  # "leave as it is" for optional updates where None means "clear"


@cache
def _dummy_hash() -> str:
    return _hasher.hash("carloop-no-such-user")


def check_password(*, session: Session, username: str, password: str) -> Staff | None:
    """The active staff account whose password this is, or None (as slow for unknown users)."""
    account = find_staff(session=session, username=username)
    if account is None or not account.active:
        _verify(_dummy_hash(), password)  # spend the same time as for a real account
        return None
    if not _verify(account.password_hash, password):
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    return account


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_staff(*, session: Session, username: str) -> Staff | None:
    """The staff account with this username, or None."""
    name = rules.normalise_username(username)
    if name is None:
        return None
    return session.scalars(select(Staff).where(Staff.username == name)).one_or_none()


def get_staff(*, session: Session, staff_id: int) -> Staff:
    """The staff account with this id; ``NotFound`` if there is none."""
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("No such staff account.", staff_id=staff_id)
    return staff


def list_staff(
    *, session: Session, role: Role | None = None, store_id: int | None = None, active: bool | None = None
) -> list[Staff]:
    """Staff accounts ordered by username, optionally filtered."""
    query = select(Staff).order_by(Staff.username)
    if role is not None:
        query = query.where(Staff.role == role)
    if store_id is not None:
        query = query.where(Staff.store_id == store_id)
    if active is not None:
        query = query.where(Staff.active == active)
    return list(session.scalars(query))


def create_staff(
    *,
    session: Session,
    actor: Principal | None,
    username: str,
    display_name: str,
    password: str,
    role: Role,
    store_id: int | None = None,
    ip: str | None = None,
) -> Staff:
    """Add a staff account (an admin, or the system when ``actor`` is None); audited."""
    _require_admin(actor)
    name = rules.normalise_username(username)
    if name is None:
        raise PolicyViolation(
            "A username is 2-40 characters of a-z, 0-9, dot, dash or underscore.", field="username"
        )
    problem = rules.password_problem(password)
    if problem is not None:
        raise PolicyViolation(problem, field="password")
    _check_display_name(display_name)
    _check_role_and_store(session=session, role=role, store_id=store_id)
    if find_staff(session=session, username=name) is not None:
        raise Conflict("This username is taken.", field="username")
    staff = Staff(
        username=name,
        display_name=display_name.strip() or name,
        password_hash=_hasher.hash(password),
        role=role,
        store_id=store_id,
    )
    session.add(staff)
    session.flush()
    detail = {"username": name, "role": str(role), "store_id": store_id}
    audit.record(
        session=session,
        principal=actor,
        action="staff.created",
        target_type="staff",
        target_id=staff.id,
        detail=detail,
        ip=ip,
    )
    return staff


def update_staff(
    *,
    session: Session,
    actor: Principal | None,
    staff_id: int,
    role: Role | _Unset = UNSET,
    store_id: int | _Unset | None = UNSET,
    active: bool | _Unset = UNSET,
    display_name: str | _Unset = UNSET,
    ip: str | None = None,
) -> Staff:
    """Change a staff account's role, store, active flag or name (admin only); audited."""
    _require_admin(actor)
    staff = get_staff(session=session, staff_id=staff_id)
    new_role = staff.role if isinstance(role, _Unset) else role
    if isinstance(store_id, _Unset):
        # Leaving the store role drops the store; other roles keep theirs unless told.
        new_store = None if new_role is not Role.STORE_STAFF else staff.store_id
    else:
        new_store = store_id
    new_active = staff.active if isinstance(active, _Unset) else active
    new_name = staff.display_name
    if not isinstance(display_name, _Unset) and display_name.strip():
        new_name = _check_display_name(display_name)
    _check_role_and_store(session=session, role=new_role, store_id=new_store)
    _keep_an_admin(session, staff, new_role, new_active)
    changes: dict[str, Any] = {}
    for field, old, new in (
        ("role", staff.role, new_role),
        ("store_id", staff.store_id, new_store),
        ("active", staff.active, new_active),
        ("display_name", staff.display_name, new_name),
    ):
        if old != new:
            changes[field] = [_plain(old), _plain(new)]
    if not changes:
        return staff
    staff.role, staff.store_id, staff.active, staff.display_name = new_role, new_store, new_active, new_name
    if not new_active:
        _end_sessions(session, staff)
    session.flush()
    audit.record(
        session=session,
        principal=actor,
        action="staff.updated",
        target_type="staff",
        target_id=staff.id,
        detail={"changes": changes},
        ip=ip,
    )
    return staff


def set_active(*, session: Session, staff_id: int, active: bool) -> Staff:
    """Switch a staff account on or off for a domain that decides who may (and audits it itself).

    The supply domain's HQ turns a supplier's portal accounts off: it checks the account is that
    supplier's and records its own audit entry naming HQ, so this neither checks for an admin nor
    writes ``staff.updated``. Switching off ends the account's sessions at once, as ``update_staff``
    does; the last active admin stays on.
    """
    staff = get_staff(session=session, staff_id=staff_id)
    if staff.active == active:
        return staff
    _keep_an_admin(session, staff, staff.role, active)
    staff.active = active
    if not active:
        _end_sessions(session, staff)
    session.flush()
    return staff


def _end_sessions(session: Session, staff: Staff) -> None:
    """Revoke every open session of a staff account (it was switched off)."""
    session.execute(
        update(SessionToken)
        .where(SessionToken.staff_id == staff.id, SessionToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def _keep_an_admin(session: Session, staff: Staff, new_role: Role, new_active: bool) -> None:
    """Refuse a change that would leave no active admin."""
    if staff.role is Role.ADMIN and staff.active and (new_role is not Role.ADMIN or not new_active):
        admins = session.scalar(select(func.count()).where(Staff.role == Role.ADMIN, Staff.active.is_(True)))
        if (admins or 0) <= 1:
            raise PolicyViolation("There must remain at least one active admin.", field="role")


def set_role(
    *,
    session: Session,
    actor: Principal | None,
    staff_id: int,
    role: Role,
    store_id: int | _Unset | None = UNSET,
    ip: str | None = None,
) -> Staff:
    """Give a staff member another role (and store, for store staff); admin or system only, audited."""
    return update_staff(session=session, actor=actor, staff_id=staff_id, role=role, store_id=store_id, ip=ip)


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Role) else value


def _require_admin(actor: Principal | None) -> None:
    if actor is not None and actor.role is not Role.ADMIN:
        raise PermissionDenied("Only an admin may manage staff accounts.")


def _check_display_name(display_name: str) -> str:
    name = display_name.strip()
    if len(name) > rules.DISPLAY_NAME_MAX_LENGTH:
        raise PolicyViolation(
            f"A display name has at most {rules.DISPLAY_NAME_MAX_LENGTH} characters.", field="display_name"
        )
    return name


def _check_role_and_store(*, session: Session, role: Role, store_id: int | None) -> None:
    if role is Role.CUSTOMER:
        raise PolicyViolation("Staff accounts cannot have the customer role.", field="role")
    if role is Role.STORE_STAFF and store_id is None:
        raise PolicyViolation("Store staff must belong to a store.", field="store_id")
    if store_id is not None and not _store_exists(session=session, store_id=store_id):
        raise PolicyViolation("There is no store with this id.", field="store_id")


def _store_exists(*, session: Session, store_id: int) -> bool:
    """Whether the row ``Staff.store_id`` would point at exists (asked of the foreign key's own target,
    so accounts needs no import of the network domain that owns stores)."""
    (foreign_key,) = Staff.__table__.c.store_id.foreign_keys
    target = foreign_key.column
    return session.scalar(select(target).where(target == store_id)) is not None

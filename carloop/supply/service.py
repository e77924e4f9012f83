"""Supply use cases: suppliers and their users, confirmations and shortage flags that re-plan production.

A confirmed quantity below the week's firm demand becomes a cap on the part's supply in the production
plan (a new plan version): allocation re-runs, the orders that no longer fit move later with the part's
shortage as the reason, and their buyers get a notice at once, before their old window passes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.accounts import staff as staff_accounts
from carloop.accounts.models import Staff
from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.catalog import parts as catalog_parts
from carloop.catalog.parts import Part
from carloop.clock import utcnow
from carloop.errors import NotFound, PolicyViolation
from carloop.production import rules as production_rules
from carloop.production import service as production
from carloop.production import triggers
from carloop.production.models import PromiseChange, Run
from carloop.supply import demand, rules
from carloop.supply.models import Confirmation, Shortage, Supplier, SupplierUser

MAX_QUANTITY = 100_000


@dataclass(frozen=True, slots=True)
class SupplierSystem:
    """A supplier's own system acting through the signed API (the audit log's actor)."""

    code: str

    @property
    def actor(self) -> str:
        """``supplier:<code>``."""
        return f"supplier:{self.code}"

    @property
    def role(self) -> str:
        """Always ``supplier``."""
        return str(Role.SUPPLIER)

    @property
    def store_id(self) -> int | None:
        """Suppliers belong to no store."""
        return None


Acting = Principal | SupplierSystem


# -- suppliers and their users -------------------------------------------------------------------


def create_supplier(*, session: Session, code: str, name_en: str, name_zh: str) -> Supplier:
    """Add a supplier with a fresh API key for its systems (returned once on the row)."""
    if session.scalar(select(Supplier).where(Supplier.code == code)) is not None:
        raise PolicyViolation("This supplier code is taken.", field="code")
    supplier = Supplier(code=code, name_en=name_en, name_zh=name_zh, api_key=secrets.token_hex(32))
    session.add(supplier)
    session.flush()
    return supplier


def add_user(
    *, session: Session, supplier: Supplier, username: str, display_name: str, password: str
) -> SupplierUser:
    """A staff-style account (role ``supplier``, argon2 password) bound to ``supplier``."""
    staff = staff_accounts.create_staff(
        session=session,
        actor=None,
        username=username,
        display_name=display_name,
        password=password,
        role=Role.SUPPLIER,
    )
    user = SupplierUser(staff_id=staff.id, supplier_id=supplier.id)
    session.add(user)
    session.flush()
    return user


def open_supplier(
    *,
    session: Session,
    actor: Principal,
    code: str,
    name_en: str,
    name_zh: str,
    username: str,
    password: str,
    ip: str | None = None,
) -> Supplier:
    """HQ adds a supplier with its first portal user; audited. Its API key is on the row, shown once."""
    if not rules.valid_code(code):
        raise PolicyViolation("A supplier code is 2-40 characters of a-z, 0-9 and dashes.", field="code")
    for field, name in (("name_en", name_en), ("name_zh", name_zh)):
        if not 1 <= len(name.strip()) <= 80:
            raise PolicyViolation("Give the supplier's name (at most 80 characters).", field=field)
    supplier = create_supplier(session=session, code=code, name_en=name_en.strip(), name_zh=name_zh.strip())
    user = add_user(
        session=session, supplier=supplier, username=username, display_name=name_zh, password=password
    )
    _audit(session, actor, "supply.supplier_created", supplier, ip, staff_id=user.staff_id)
    return supplier


def rotate_key(*, session: Session, actor: Principal, code: str, ip: str | None = None) -> Supplier:
    """HQ gives a supplier's systems a new API key; the old one is refused from now on. Audited."""
    supplier = _supplier(session, code)
    supplier.api_key = secrets.token_hex(32)
    session.flush()
    _audit(session, actor, "supply.key_rotated", supplier, ip)
    return supplier


def portal_users(*, session: Session) -> dict[int, list[Staff]]:
    """Every supplier's portal accounts (active or not), by supplier id, oldest first."""
    query = select(SupplierUser.supplier_id, Staff).join(Staff, Staff.id == SupplierUser.staff_id)
    rows = session.execute(query.order_by(Staff.id)).all()
    found: dict[int, list[Staff]] = {}
    for supplier_id, staff in rows:
        found.setdefault(supplier_id, []).append(staff)
    return found


def add_portal_user(
    *, session: Session, actor: Principal, code: str, username: str, password: str, ip: str | None = None
) -> SupplierUser:
    """HQ gives a supplier another portal account (a planner joins, a shift changes); audited."""
    supplier = _supplier(session, code)
    user = add_user(
        session=session,
        supplier=supplier,
        username=username,
        display_name=supplier.name_zh,
        password=password,
    )
    _audit(session, actor, "supply.user_added", supplier, ip, staff_id=user.staff_id)
    return user


def set_portal_user_active(
    *, session: Session, actor: Principal, code: str, staff_id: int, active: bool, ip: str | None = None
) -> Staff:
    """HQ turns a supplier's portal account off (its sessions end at once) or on again; audited.

    Only that supplier's accounts: any other staff id is "not found", whoever it belongs to.
    """
    supplier = _supplier(session, code)
    owned = session.scalar(
        select(SupplierUser).where(SupplierUser.supplier_id == supplier.id, SupplierUser.staff_id == staff_id)
    )
    if owned is None:
        raise NotFound("No such portal user of this supplier.")
    staff = staff_accounts.set_active(session=session, staff_id=staff_id, active=active)  # HQ audits it
    action = "supply.user_activated" if active else "supply.user_deactivated"
    _audit(session, actor, action, supplier, ip, staff_id=staff_id)
    return staff


def _audit(
    session: Session, actor: Principal, action: str, supplier: Supplier, ip: str | None, **detail: object
) -> None:
    """An audit entry of HQ's administration of a supplier (never its key, which is a secret)."""
    audit.record(
        session=session,
        principal=actor,
        action=action,
        target_type="supplier",
        target_id=supplier.id,
        detail={"code": supplier.code, **detail},
        ip=ip,
    )


def _supplier(session: Session, code: str) -> Supplier:
    supplier = session.scalar(select(Supplier).where(Supplier.code == code))
    if supplier is None:
        raise NotFound("No such supplier.")
    return supplier


def supplier_of(*, session: Session, principal: Principal) -> Supplier:
    """The supplier a signed-in supplier user works for; ``NotFound`` for anyone else."""
    if principal.role is not Role.SUPPLIER or principal.staff_id is None:
        raise NotFound("No such supplier.")
    supplier = session.scalar(
        select(Supplier)
        .join(SupplierUser, SupplierUser.supplier_id == Supplier.id)
        .where(SupplierUser.staff_id == principal.staff_id, Supplier.active.is_(True))
    )
    if supplier is None:
        raise NotFound("No such supplier.")
    return supplier


def by_code(*, session: Session, code: str) -> Supplier | None:
    """The active supplier with this code, or None."""
    return session.scalar(select(Supplier).where(Supplier.code == code, Supplier.active.is_(True)))


def list_suppliers(*, session: Session) -> list[Supplier]:
    """Every supplier, by code."""
    return list(session.scalars(select(Supplier).order_by(Supplier.code)))


def own_part(supplier: Supplier, code: str) -> Part:
    """One of the supplier's parts; another supplier's part (or none) is ``NotFound``."""
    part = catalog_parts.all_parts().get(code)
    if part is None or part.supplier != supplier.code:
        raise NotFound(f"There is no part '{code}'.", part=code)
    return part


def forecast(
    *, session: Session, supplier: Supplier, now: datetime | None = None
) -> tuple[list[demand.PartForecast], demand.Conversion]:
    """The supplier's parts and their demand for the coming weeks."""
    return demand.forecast(session=session, parts=catalog_parts.supplied_by(supplier.code), now=now)


# -- confirmations and shortages -----------------------------------------------------------------


def _check_week(session: Session, week: int, now: datetime | None) -> None:
    _, plan = production.current_plan(session=session, now=now)
    week0 = production_rules.week_of(production.today(now))
    if not week0 <= week < week0 + plan.horizon_weeks:
        raise PolicyViolation("That week is not in the production plan.", field="week")


def _check_quantity(quantity: int) -> None:
    if not 0 <= quantity <= MAX_QUANTITY:
        raise PolicyViolation("A quantity is a whole number from 0 to 100000.", field="quantity")


def confirm(
    *,
    session: Session,
    supplier: Supplier,
    part_code: str,
    week: int,
    quantity: int,
    actor: Acting,
    reason: str = "",
    ip: str | None = None,
    now: datetime | None = None,
) -> Confirmation:
    """Record what the supplier commits to deliver of a part in a week; short supply caps the plan."""
    part = own_part(supplier, part_code)
    _check_week(session, week, now)
    _check_quantity(quantity)
    confirmation = _record(session, supplier, part, week, quantity, actor, reason[:200], ip, now, None)
    _replan(session, supplier, part, [confirmation], actor)
    return confirmation


def flag_shortage(
    *,
    session: Session,
    supplier: Supplier,
    part_code: str,
    from_week: int,
    recovery_week: int,
    share: float,
    reason: str,
    actor: Acting,
    ip: str | None = None,
    now: datetime | None = None,
) -> Shortage:
    """Flag a shortage: until ``recovery_week`` the supplier delivers ``1 - share`` of the firm demand."""
    part = own_part(supplier, part_code)
    if not 0 < share <= 1:
        raise PolicyViolation("The short share is more than nothing and at most all of it.", field="share")
    if len(reason.strip()) < 3:
        raise PolicyViolation("Say why supply is short.", field="reason")
    if recovery_week <= from_week:
        raise PolicyViolation("The recovery week comes after the first short week.", field="recovery_week")
    _check_week(session, from_week, now)
    _check_week(session, recovery_week - 1, now)
    shortage = Shortage(
        supplier_id=supplier.id,
        part=part.code,
        from_week=from_week,
        recovery_week=recovery_week,
        share=share,
        reason=reason.strip()[:200],
        actor=actor.actor,
    )
    session.add(shortage)
    session.flush()
    audit.record(
        session=session,
        principal=actor,
        action="supply.shortage_flagged",
        target_type="supplier",
        target_id=supplier.id,
        detail={"part": part.code, "from_week": from_week, "recovery_week": recovery_week, "share": share},
        ip=ip,
    )
    done = []
    for week in range(from_week, recovery_week):
        firm = demand.firm_demand(session=session, part=part, week=week)
        quantity = rules.short_quantity(firm, share)
        done.append(
            _record(session, supplier, part, week, quantity, actor, shortage.reason, ip, now, shortage.id)
        )
    _replan(session, supplier, part, done, actor)
    return shortage


def _record(
    session: Session,
    supplier: Supplier,
    part: Part,
    week: int,
    quantity: int,
    actor: Acting,
    reason: str,
    ip: str | None,
    now: datetime | None,
    shortage_id: int | None,
) -> Confirmation:
    firm = demand.firm_demand(session=session, part=part, week=week)
    late = rules.is_late(week, production.today(now))
    row = session.scalar(
        select(Confirmation).where(Confirmation.part == part.code, Confirmation.week == week)
    )
    before = None if row is None else row.quantity
    if row is None:
        row = Confirmation(supplier_id=supplier.id, part=part.code, week=week, changes=0)
        session.add(row)
    else:
        row.changes += 1
    row.quantity, row.demand, row.late, row.actor = quantity, firm, late, actor.actor
    row.reason, row.shortage_id, row.at = reason, shortage_id, now or utcnow()
    session.flush()
    audit.record(
        session=session,
        principal=actor,
        action="supply.confirmed" if before is None else "supply.changed",
        target_type="supplier",
        target_id=supplier.id,
        detail={
            "part": part.code,
            "week": production_rules.week_start(week).isoformat(),
            "quantity": quantity,
            "before": before,
            "demand": firm,
            "late": late,
        },
        ip=ip,
    )
    return row


def _replan(
    session: Session, supplier: Supplier, part: Part, rows: list[Confirmation], actor: Acting
) -> Run | None:
    """Put the confirmed weeks into the plan: short ones capped, full ones uncapped; re-plan once."""
    _, plan = production.current_plan(session=session)
    new = plan
    for row in rows:
        new = rules.with_supply(new, part, row.week, row.quantity if row.quantity < row.demand else None)
    if new == plan:
        return None
    short = [r for r in rows if r.quantity < r.demand]
    first = production_rules.week_start(min(r.week for r in (short or rows))).isoformat()
    reason = rules.replan_reason(supplier.code, part, first, short=bool(short))
    told = rules.shortage_reason(part) if short else rules.restored_reason(part)
    cause = triggers.supply_changed(supplier.code, part.code, first, short=bool(short))
    run = production.save_plan(
        session=session, plan=new, reason=reason, actor=actor.actor[:40], told=told, cause=cause
    )
    for row in rows:
        row.plan_version, row.run_id = run.plan_version, run.id
    session.flush()
    return run


# -- what HQ sees --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShortageView:
    """A re-plan caused by a supplier's short confirmations: which weeks, and the orders it moved."""

    supplier: Supplier
    part: Part
    weeks: list[Confirmation]
    moved: list[tuple[str, PromiseChange]]


def shortages(*, session: Session, limit: int = 200) -> list[ShortageView]:
    """The latest re-plans caused by confirmations below demand, newest first, with the orders moved."""
    rows = list(
        session.execute(
            select(Confirmation, Supplier)
            .join(Supplier, Supplier.id == Confirmation.supplier_id)
            .where(Confirmation.quantity < Confirmation.demand, Confirmation.run_id.is_not(None))
            .order_by(Confirmation.run_id.desc(), Confirmation.week)
            .limit(limit)
        )
    )
    moves = production.moves_of_runs(session=session, run_ids=sorted({c.run_id for c, _ in rows if c.run_id}))
    known = catalog_parts.all_parts()
    grouped: dict[int, ShortageView] = {}
    for c, s in rows:
        part = known.get(c.part)
        if part is None or c.run_id is None:
            continue
        if c.run_id not in grouped:
            mine = [(n, m) for n, m in moves if m.run_id == c.run_id]
            grouped[c.run_id] = ShortageView(s, part, [], mine)
        grouped[c.run_id].weeks.append(c)
    return list(grouped.values())


def flags(*, session: Session, supplier: Supplier | None = None, limit: int = 20) -> list[Shortage]:
    """The latest shortage flags (of one supplier, if given), newest first."""
    query = select(Shortage).order_by(Shortage.id.desc()).limit(limit)
    if supplier is not None:
        query = query.where(Shortage.supplier_id == supplier.id)
    return list(session.scalars(query))

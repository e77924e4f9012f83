"""Deposit terms: HQ's overrides per model or trim (HQ only, audited) and the terms in force.

``effective_deposit`` is the one rule for which terms apply: the trim's override, else the model's,
else the catalog's. The limits an override must respect are ``ordering.rules.deposit_problem``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.catalog import service as catalog
from carloop.catalog.compiled import CarModel
from carloop.catalog.schemas import ConfigurationIn, DepositPolicy, Quote
from carloop.errors import PermissionDenied, PolicyViolation
from carloop.ordering import rules
from carloop.ordering.models import DepositPolicyOverride


def _require_hq(actor: Principal) -> None:
    if actor.role not in (Role.HQ_OPS, Role.ADMIN):
        raise PermissionDenied("Only headquarters operations or an admin may change this.")


def list_deposit_overrides(*, session: Session) -> list[DepositPolicyOverride]:
    """Every deposit policy override, by model and trim."""
    query = select(DepositPolicyOverride).order_by(DepositPolicyOverride.model, DepositPolicyOverride.trim)
    return list(session.scalars(query))


def set_deposit_policy(
    *,
    session: Session,
    actor: Principal,
    model: str,
    trim: str = "",
    amount_fen: int,
    refundable_hours: int,
    auto_lock: bool = True,
    lock_at_payment: bool = False,
    ip: str | None = None,
) -> DepositPolicyOverride:
    """Set the deposit terms of a model or one of its trims (HQ only); audited with before and after."""
    _require_hq(actor)
    car = catalog.get_model(model, version=catalog.active_catalog_version(session=session))
    if trim and trim not in car.trims:
        raise PolicyViolation(f"Model '{model}' has no trim '{trim}'.", field="trim")
    problem = rules.deposit_problem(
        amount_fen=amount_fen, refundable_hours=refundable_hours, lock_at_payment=lock_at_payment
    )
    if problem is not None:
        raise PolicyViolation(problem, field="amount_fen")
    row = session.scalars(
        select(DepositPolicyOverride).where(
            DepositPolicyOverride.model == model, DepositPolicyOverride.trim == trim
        )
    ).one_or_none()
    before = _terms(row) if row is not None else None
    if row is None:
        row = DepositPolicyOverride(model=model, trim=trim, amount_fen=0, refundable_hours=0, updated_by="")
        session.add(row)
    row.amount_fen, row.refundable_hours = amount_fen, refundable_hours
    row.auto_lock, row.lock_at_payment, row.updated_by = auto_lock, lock_at_payment, actor.actor
    session.flush()
    audit.record(
        session=session,
        principal=actor,
        action="deposit_policy.set",
        target_type="deposit_policy",
        target_id=f"{model}/{trim or '*'}",
        detail={"before": before, "after": _terms(row)},
        ip=ip,
    )
    return row


def clear_deposit_policy(
    *, session: Session, actor: Principal, model: str, trim: str = "", ip: str | None = None
) -> bool:
    """Drop an override so the catalog's terms apply again (HQ only); audited. False if none existed."""
    _require_hq(actor)
    result = session.execute(
        delete(DepositPolicyOverride).where(
            DepositPolicyOverride.model == model, DepositPolicyOverride.trim == trim
        )
    )
    removed = bool(getattr(result, "rowcount", 0))
    if removed:
        audit.record(
            session=session,
            principal=actor,
            action="deposit_policy.cleared",
            target_type="deposit_policy",
            target_id=f"{model}/{trim or '*'}",
            ip=ip,
        )
    return removed


def effective_deposit(*, session: Session, model: str, trim: str, policy: DepositPolicy) -> DepositPolicy:
    """Deposit terms in force: the trim's override, else the model's, else the catalog's ``policy``."""
    rows = {
        row.trim: row
        for row in session.scalars(
            select(DepositPolicyOverride).where(
                DepositPolicyOverride.model == model, DepositPolicyOverride.trim.in_(("", trim))
            )
        )
    }
    row = rows.get(trim) or rows.get("")
    return policy if row is None else _policy(row)


def _policy(row: DepositPolicyOverride) -> DepositPolicy:
    return DepositPolicy(
        amount_fen=row.amount_fen,
        refundable_hours=row.refundable_hours,
        auto_lock=row.auto_lock,
        lock_at_payment=row.lock_at_payment,
    )


def storefront_deposits(*, session: Session, car: CarModel) -> dict[str, DepositPolicy]:
    """The deposit terms in force for every trim of ``car`` (one query), as the storefront shows them."""
    rows = {
        row.trim: row
        for row in session.scalars(
            select(DepositPolicyOverride).where(DepositPolicyOverride.model == car.code)
        )
    }
    out = {}
    for code, trim in car.trims.items():
        row = rows.get(code) or rows.get("")
        out[code] = trim.deposit if row is None else _policy(row)
    return out


def storefront_quote(*, session: Session, config: ConfigurationIn, at: datetime | None = None) -> Quote:
    """Price ``config`` as a reservation would: the active catalog version and HQ's deposit terms."""
    quote = catalog.quote(config=config, at=at, version=catalog.active_catalog_version(session=session))
    deposit = effective_deposit(session=session, model=quote.model, trim=quote.trim, policy=quote.deposit)
    return quote if deposit == quote.deposit else quote.model_copy(update={"deposit": deposit})


def _terms(row: DepositPolicyOverride) -> dict[str, object]:
    return {
        "amount_fen": row.amount_fen,
        "refundable_hours": row.refundable_hours,
        "auto_lock": row.auto_lock,
        "lock_at_payment": row.lock_at_payment,
    }

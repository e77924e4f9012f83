"""Catalog activation (catalog) and deposit terms overrides (ordering.terms): audited, HQ only."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.catalog import service as catalog
from carloop.errors import NotFound, PermissionDenied, PolicyViolation
from carloop.ordering import terms

OPS = Principal(role=Role.HQ_OPS, staff_id=2, display_name="Ops")
STORE = Principal(role=Role.STORE_STAFF, staff_id=3, store_id=1, display_name="Store")


def test_the_newest_catalog_is_in_force_until_hq_activates_another(session: Session) -> None:
    versions = catalog.list_versions()
    assert catalog.active_catalog_version(session=session) == versions[-1]
    catalog.activate_catalog_version(session=session, actor=OPS, version=versions[0], ip="10.0.0.1")
    assert catalog.active_catalog_version(session=session) == versions[0]
    entry = audit.list_entries(session=session, action="catalog.activated")[0]
    assert (entry.actor, entry.target_id, entry.detail["previous"], entry.ip) == (
        "staff:2",
        versions[0],
        versions[-1],
        "10.0.0.1",
    )


def test_an_unknown_version_cannot_be_activated_and_store_staff_cannot_activate(session: Session) -> None:
    with pytest.raises(NotFound):
        catalog.activate_catalog_version(session=session, actor=OPS, version="1999.01")
    with pytest.raises(PermissionDenied):
        catalog.activate_catalog_version(session=session, actor=STORE, version=catalog.list_versions()[0])


def test_a_trim_override_beats_a_model_override_which_beats_the_catalog(session: Session) -> None:
    base = catalog.get_model("su7").trims["pro"].deposit
    assert terms.effective_deposit(session=session, model="su7", trim="pro", policy=base) == base
    terms.set_deposit_policy(session=session, actor=OPS, model="su7", amount_fen=200_000, refundable_hours=72)
    model_wide = terms.effective_deposit(session=session, model="su7", trim="pro", policy=base)
    assert (model_wide.amount_fen, model_wide.refundable_hours) == (200_000, 72)
    terms.set_deposit_policy(
        session=session,
        actor=OPS,
        model="su7",
        trim="pro",
        amount_fen=300_000,
        refundable_hours=0,
        lock_at_payment=True,
    )
    trim_only = terms.effective_deposit(session=session, model="su7", trim="pro", policy=base)
    assert (trim_only.amount_fen, trim_only.lock_at_payment) == (300_000, True)
    assert (
        terms.effective_deposit(session=session, model="su7", trim="max", policy=base).amount_fen == 200_000
    )
    assert terms.clear_deposit_policy(session=session, actor=OPS, model="su7", trim="pro")
    assert not terms.clear_deposit_policy(session=session, actor=OPS, model="su7", trim="pro")
    assert (
        terms.effective_deposit(session=session, model="su7", trim="pro", policy=base).amount_fen == 200_000
    )
    actions = [e.action for e in audit.list_entries(session=session, target_type="deposit_policy")]
    assert actions == ["deposit_policy.cleared", "deposit_policy.set", "deposit_policy.set"]
    changed = audit.list_entries(session=session, action="deposit_policy.set", target_id="su7/*")[0]
    assert changed.detail["before"] is None and changed.detail["after"]["amount_fen"] == 200_000


@pytest.mark.parametrize(
    ("model", "trim", "amount", "hours", "error"),
    [
        ("su7", "nope", 100_000, 24, PolicyViolation),
        ("nope", "", 100_000, 24, NotFound),
        ("su7", "", 0, 24, PolicyViolation),
        ("su7", "", 100_000, 24 * 31, PolicyViolation),
    ],
)
def test_bad_deposit_terms_are_refused(
    session: Session, model: str, trim: str, amount: int, hours: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        terms.set_deposit_policy(
            session=session, actor=OPS, model=model, trim=trim, amount_fen=amount, refundable_hours=hours
        )


def test_store_staff_cannot_edit_deposit_policy(session: Session) -> None:
    with pytest.raises(PermissionDenied):
        terms.set_deposit_policy(
            session=session, actor=STORE, model="su7", amount_fen=100_000, refundable_hours=24
        )

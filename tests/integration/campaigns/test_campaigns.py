"""Campaigns on a real database: created and changed with versions and audit rows; orders refused
before the reveal with a message saying when they open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop import errors
from carloop.accounts.schemas import Principal, Role
from carloop.audit.models import AuditEntry
from carloop.campaigns import service
from carloop.campaigns.models import CampaignVersion
from carloop.campaigns.schemas import CampaignCreate

OPS = Principal(role=Role.HQ_OPS, staff_id=2, display_name="Ops")
MODELS = ("su7", "yu7")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _data(**changes: object) -> CampaignCreate:
    base: dict[str, object] = {
        "code": "su7-launch",
        "name_en": "SU7 launch",
        "name_zh": "SU7 发布会",
        "models": ["su7"],
        "reveal_at": NOW + timedelta(minutes=2),
        "ends_at": NOW + timedelta(days=1),
        "perk": {"kind": "first_paid", "limit": 100, "title_en": "Free wheels", "title_zh": "赠送轮毂"},
    }
    base.update(changes)
    return CampaignCreate.model_validate(base)


def test_created_campaign_is_versioned_and_audited(session: Session) -> None:
    campaign = service.create_campaign(
        session=session, principal=OPS, known_models=MODELS, data=_data(), now=NOW
    )
    assert campaign.version == 1
    assert service.campaign_for(session=session, model="su7", now=NOW) is campaign
    assert service.campaign_for(session=session, model="yu7", now=NOW) is None
    audit = session.scalars(select(AuditEntry).where(AuditEntry.target_type == "campaign")).all()
    assert [a.action for a in audit] == ["campaign.create"]
    assert audit[0].actor == "staff:2"


def test_orders_are_refused_before_the_reveal_with_the_opening_time(session: Session) -> None:
    service.create_campaign(session=session, principal=OPS, known_models=MODELS, data=_data(), now=NOW)
    with pytest.raises(errors.PolicyViolation) as refused:
        service.ensure_orders_open(session=session, model="su7", trim="max", now=NOW)
    assert refused.value.code == errors.ErrorCode.ORDERS_NOT_OPEN
    assert refused.value.message == "Orders for the su7 open at 2026-12-07 18:02:00 Beijing time."
    assert refused.value.data["opens_at"] == "2026-12-07T10:02:00+00:00"
    service.ensure_orders_open(session=session, model="su7", now=NOW + timedelta(minutes=2))
    service.ensure_orders_open(session=session, model="yu7", now=NOW)


def test_changes_before_the_reveal_are_new_versions(session: Session) -> None:
    campaign = service.create_campaign(
        session=session, principal=OPS, known_models=MODELS, data=_data(), now=NOW
    )
    service.update_campaign(
        session=session,
        principal=OPS,
        known_models=MODELS,
        campaign_id=campaign.id,
        data=_data(models=["su7", "yu7"]),
        now=NOW,
    )
    assert campaign.version == 2
    versions = session.scalars(select(CampaignVersion).order_by(CampaignVersion.version)).all()
    assert [v.snapshot["models"] for v in versions] == [["su7"], ["su7", "yu7"]]
    same = service.update_campaign(
        session=session,
        principal=OPS,
        known_models=MODELS,
        campaign_id=campaign.id,
        data=_data(models=["su7", "yu7"]),
        now=NOW,
    )
    assert same.version == 2  # nothing changed, nothing saved


def test_after_the_reveal_the_perk_cannot_change_but_the_end_can_move_later(session: Session) -> None:
    campaign = service.create_campaign(
        session=session, principal=OPS, known_models=MODELS, data=_data(), now=NOW
    )
    after = NOW + timedelta(minutes=5)
    with pytest.raises(errors.Conflict):
        service.update_campaign(
            session=session,
            principal=OPS,
            known_models=MODELS,
            campaign_id=campaign.id,
            data=_data(perk=None),
            now=after,
        )
    assert campaign.version == 1
    service.update_campaign(
        session=session,
        principal=OPS,
        known_models=MODELS,
        campaign_id=campaign.id,
        data=_data(ends_at=NOW + timedelta(days=3)),
        now=after,
    )
    assert campaign.version == 2


def test_a_campaign_with_bad_terms_is_refused(session: Session) -> None:
    with pytest.raises(errors.PolicyViolation):
        service.create_campaign(
            session=session, principal=OPS, known_models=MODELS, data=_data(models=["nope"]), now=NOW
        )
    with pytest.raises(errors.PolicyViolation):
        service.create_campaign(
            session=session,
            principal=OPS,
            known_models=MODELS,
            data=_data(reveal_at=NOW - timedelta(seconds=1)),
            now=NOW,
        )
    service.create_campaign(session=session, principal=OPS, known_models=MODELS, data=_data(), now=NOW)
    with pytest.raises(errors.Conflict):
        service.create_campaign(session=session, principal=OPS, known_models=MODELS, data=_data(), now=NOW)

"""Campaign use cases: create and change campaigns (versioned, audited), find the campaign that
governs a model, and refuse reservations before the reveal. Services flush; the edge commits."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop import errors
from carloop.audit import service as audit
from carloop.audit.service import Actor
from carloop.campaigns import rules
from carloop.campaigns.models import Campaign, CampaignVersion
from carloop.campaigns.schemas import CampaignCreate
from carloop.clock import SHANGHAI, as_utc, utcnow
from carloop.errors import DomainError


def terms_of(campaign: Campaign) -> rules.Terms:
    """The rules' view of a stored campaign."""
    return rules.Terms(
        models=tuple(campaign.models),
        trims=tuple(campaign.trims or ()),
        reveal_at=as_utc(campaign.reveal_at),
        ends_at=as_utc(campaign.ends_at),
        perk=campaign.perk,
    )


def _terms_in(data: CampaignCreate) -> rules.Terms:
    return rules.Terms(
        models=tuple(data.models),
        trims=tuple(data.trims),
        reveal_at=as_utc(data.reveal_at),
        ends_at=as_utc(data.ends_at),
        perk=data.perk.model_dump(exclude_none=True) if data.perk else None,
    )


def _snapshot(campaign: Campaign) -> dict[str, Any]:
    return {
        "code": campaign.code,
        "name_en": campaign.name_en,
        "name_zh": campaign.name_zh,
        "models": list(campaign.models),
        "trims": list(campaign.trims or []),
        "reveal_at": as_utc(campaign.reveal_at).isoformat(),
        "ends_at": as_utc(campaign.ends_at).isoformat(),
        "perk": campaign.perk,
    }


def _check(terms: rules.Terms, now: datetime, known_models: Iterable[str]) -> None:
    problems = rules.terms_problems(terms, now=now, known_models=known_models)
    if problems:
        raise errors.PolicyViolation(problems[0], problems=problems)


def _save_version(session: Session, campaign: Campaign, principal: Actor | None) -> None:
    session.add(
        CampaignVersion(
            campaign_id=campaign.id,
            version=campaign.version,
            snapshot=_snapshot(campaign),
            changed_by=principal.actor if principal is not None else audit.SYSTEM_ACTOR,
        )
    )


def create_campaign(
    *,
    session: Session,
    principal: Actor | None,
    data: CampaignCreate,
    known_models: Iterable[str],
    now: datetime | None = None,
) -> Campaign:
    """Create a campaign (version 1), audited; its reveal must be in the future and its models in
    ``known_models`` (the catalog's, given by the caller: campaigns do not read the catalog)."""
    now = now or utcnow()
    terms = _terms_in(data)
    _check(terms, now, known_models)
    if not terms.reveal_at > now:
        raise errors.PolicyViolation("A new reveal moment must be in the future.")
    if session.scalar(select(Campaign.id).where(Campaign.code == data.code)) is not None:
        raise errors.Conflict(f"There is already a campaign {data.code}.")
    campaign = Campaign(
        code=data.code,
        name_en=data.name_en,
        name_zh=data.name_zh,
        models=list(terms.models),
        trims=list(terms.trims),
        reveal_at=terms.reveal_at,
        ends_at=terms.ends_at,
        perk=dict(terms.perk) if terms.perk else None,
        perks_taken=0,
        version=1,
        created_by=principal.actor if principal is not None else audit.SYSTEM_ACTOR,
    )
    session.add(campaign)
    session.flush()
    _save_version(session, campaign, principal)
    audit.record(
        session=session,
        principal=principal,
        action="campaign.create",
        target_type="campaign",
        target_id=campaign.id,
        detail=_snapshot(campaign),
    )
    session.flush()
    return campaign


def update_campaign(
    *,
    session: Session,
    principal: Actor | None,
    campaign_id: int,
    data: CampaignCreate,
    known_models: Iterable[str],
    now: datetime | None = None,
) -> Campaign:
    """Save a changed campaign as a new version, audited; after the reveal only a later end is allowed."""
    now = now or utcnow()
    campaign = get_campaign(session=session, campaign_id=campaign_id)
    before, after = terms_of(campaign), _terms_in(data)
    if data.code != campaign.code:
        raise errors.PolicyViolation("A campaign's code cannot change.")
    _check(after, now, known_models)
    problem = rules.change_problem(before, after, now=now)
    if problem is not None:
        raise errors.Conflict(problem, changed=rules.changed_fields(before, after))
    names_changed = (data.name_en, data.name_zh) != (campaign.name_en, campaign.name_zh)
    if not rules.changed_fields(before, after) and not names_changed:
        return campaign  # nothing to save: no new version
    previous = _snapshot(campaign)
    campaign.name_en, campaign.name_zh = data.name_en, data.name_zh
    campaign.models, campaign.trims = list(after.models), list(after.trims)
    campaign.reveal_at, campaign.ends_at = after.reveal_at, after.ends_at
    campaign.perk = dict(after.perk) if after.perk else None
    campaign.version += 1
    session.flush()
    _save_version(session, campaign, principal)
    audit.record(
        session=session,
        principal=principal,
        action="campaign.update",
        target_type="campaign",
        target_id=campaign.id,
        detail={"version": campaign.version, "before": previous, "after": _snapshot(campaign)},
    )
    session.flush()
    return campaign


def get_campaign(*, session: Session, campaign_id: int) -> Campaign:
    """One campaign by id."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise errors.NotFound(f"No campaign {campaign_id}.")
    return campaign


def get_campaign_by_code(*, session: Session, code: str) -> Campaign:
    """One campaign by its code."""
    campaign = session.scalar(select(Campaign).where(Campaign.code == code))
    if campaign is None:
        raise errors.NotFound(f"No campaign {code}.")
    return campaign


def list_campaigns(*, session: Session) -> list[Campaign]:
    """Every campaign, the latest reveal first."""
    return list(session.scalars(select(Campaign).order_by(Campaign.reveal_at.desc(), Campaign.id.desc())))


def campaign_for(
    *, session: Session, model: str, trim: str | None = None, now: datetime | None = None
) -> Campaign | None:
    """The campaign that governs orders for this model (and trim) now: not yet ended, the one
    revealing soonest if several do."""
    now = now or utcnow()
    found = session.scalars(select(Campaign).where(Campaign.ends_at > now).order_by(Campaign.reveal_at))
    for campaign in found:
        if rules.covers(terms_of(campaign), model, trim):
            return campaign
    return None


def is_revealed(campaign: Campaign, now: datetime | None = None) -> bool:
    """Whether the campaign's price is public and its orders open (server time)."""
    return rules.is_revealed(as_utc(campaign.reveal_at), now or utcnow())


def opens_at_text(campaign: Campaign) -> str:
    """The reveal moment as Beijing wall-clock time, for messages."""
    return as_utc(campaign.reveal_at).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def ensure_orders_open(
    *, session: Session, model: str, trim: str | None = None, now: datetime | None = None
) -> None:
    """Refuse a reservation for a campaign's model before its reveal (a problem saying when it opens)."""
    now = now or utcnow()
    campaign = campaign_for(session=session, model=model, trim=trim, now=now)
    if campaign is None or is_revealed(campaign, now):
        return
    raise _not_open(campaign, model)


def reservation_gate(
    *, session: Session, now: datetime | None = None
) -> Callable[[str, str], DomainError | None]:
    """A check for a batch of reservations (one query): the refusal for a model and trim whose campaign
    has not revealed yet, or None when orders for it are open."""
    now = now or utcnow()
    waiting = list(
        session.scalars(select(Campaign).where(Campaign.reveal_at > now).order_by(Campaign.reveal_at))
    )

    def gate(model: str, trim: str) -> DomainError | None:
        for campaign in waiting:
            if rules.covers(terms_of(campaign), model, trim):
                return _not_open(campaign, model)
        return None

    return gate


def _not_open(campaign: Campaign, model: str) -> errors.PolicyViolation:
    opens_at = opens_at_text(campaign)
    return errors.PolicyViolation(
        f"Orders for the {model} open at {opens_at} Beijing time.",
        code=errors.ErrorCode.ORDERS_NOT_OPEN,
        opens_at=as_utc(campaign.reveal_at).isoformat(),
        campaign=campaign.code,
    )


def sealed_campaign(
    *, session: Session, model: str, trim: str | None = None, now: datetime | None = None
) -> Campaign | None:
    """The campaign keeping this model's price and orders hidden until its reveal, if any."""
    now = now or utcnow()
    campaign = campaign_for(session=session, model=model, trim=trim, now=now)
    return campaign if campaign is not None and not is_revealed(campaign, now) else None


def sealed_models(*, session: Session, now: datetime | None = None) -> dict[str, Campaign]:
    """Model code -> the campaign hiding its price until the reveal (for listings)."""
    now = now or utcnow()
    found: dict[str, Campaign] = {}
    for campaign in session.scalars(
        select(Campaign).where(Campaign.reveal_at > now).order_by(Campaign.reveal_at)
    ):
        for model in campaign.models:
            found.setdefault(model, campaign)
    return found

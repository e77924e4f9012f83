"""What pre-registration and opening notices need to know of a campaign, read in one place: its
reveal, its end and the models it launches (with their names in both languages, from the catalog)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.campaigns.models import Campaign
from carloop.catalog import service as catalog
from carloop.clock import as_utc
from carloop.errors import NotFound

NO_CAMPAIGN = "No such campaign."


@dataclass(frozen=True, slots=True)
class CampaignView:
    """A campaign as registrants see it."""

    id: int
    code: str
    name_en: str
    name_zh: str
    reveal_at: datetime
    ends_at: datetime | None
    model_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (en, zh)

    @property
    def model_codes(self) -> tuple[str, ...]:
        """The codes of the models the campaign launches."""
        return tuple(self.model_names)


def _view(campaign: Campaign) -> CampaignView:
    models = catalog.current_catalog().models
    names = {
        code: (models[code].name_en, models[code].name_zh) if code in models else (code, code)
        for code in campaign.models
    }
    return CampaignView(
        id=campaign.id,
        code=campaign.code,
        name_en=campaign.name_en,
        name_zh=campaign.name_zh,
        reveal_at=as_utc(campaign.reveal_at),
        ends_at=as_utc(campaign.ends_at) if campaign.ends_at is not None else None,
        model_names=names,
    )


def campaign_view(*, session: Session, campaign_id: int) -> CampaignView:
    """The campaign with this id; ``NotFound`` if there is none."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(NO_CAMPAIGN, campaign_id=campaign_id)
    return _view(campaign)


def campaign_by_code(*, session: Session, code: str) -> CampaignView:
    """The campaign with this code (the slug in its URLs); ``NotFound`` if there is none."""
    campaign = session.scalar(select(Campaign).where(Campaign.code == code[:40]))
    if campaign is None:
        raise NotFound(NO_CAMPAIGN, campaign=code[:40])
    return _view(campaign)

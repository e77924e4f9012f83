"""Console pages for campaigns: list and create, edit (versioned), and issue deep links with QR codes.

Times are entered and shown as Beijing wall-clock time; the server keeps UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.campaigns import attribution, rules, service
from carloop.campaigns.models import Campaign, CampaignVersion
from carloop.campaigns.schemas import CampaignCreate, LinkCreate
from carloop.catalog import service as catalog
from carloop.clock import SHANGHAI, as_utc, utcnow
from carloop.console.render import render
from carloop.errors import DomainError
from carloop.web.deps import DbSession, check_csrf, public_base_url, require_roles

router = APIRouter(prefix="/console/campaigns")
HqStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]
Csrf = Annotated[str, Form(max_length=100)]
Short = Annotated[str, Form(max_length=256)]


def _local(moment: datetime) -> str:
    """A UTC moment as a ``datetime-local`` value in Beijing time."""
    return as_utc(moment).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S")


def _parse_local(raw: str) -> datetime | None:
    try:
        return datetime.fromisoformat(raw.strip()).replace(tzinfo=SHANGHAI)
    except ValueError:
        return None


def _models(session: Session) -> list[Any]:
    return list(catalog.get_catalog(catalog.active_catalog_version(session=session)).models.values())


def _form_data(form: dict[str, Any]) -> CampaignCreate:
    """The console form as a campaign (raises pydantic's ValidationError on bad input)."""
    perk: dict[str, Any] | None = None
    if form["perk_kind"] in ("first_paid", "locked_within"):
        number = form["perk_number"].strip()
        perk = {
            "kind": form["perk_kind"],
            ("limit" if form["perk_kind"] == "first_paid" else "hours"): int(number)
            if number.isdigit()
            else 0,
            "title_en": form["perk_title_en"],
            "title_zh": form["perk_title_zh"],
        }
    return CampaignCreate.model_validate(
        {
            "code": form["code"].strip(),
            "name_en": form["name_en"].strip(),
            "name_zh": form["name_zh"].strip(),
            "models": form["models"],
            "trims": [t.strip() for t in form["trims"].split(",") if t.strip()],
            "reveal_at": _parse_local(form["reveal_at"]),
            "ends_at": _parse_local(form["ends_at"]),
            "perk": perk,
        }
    )


def _error_text(err: ValidationError) -> str:
    fields = sorted({".".join(str(p) for p in e["loc"]) for e in err.errors()})
    return f"Check these fields: {', '.join(fields)}."


def _blank_form() -> dict[str, Any]:
    return {
        "code": "",
        "name_en": "",
        "name_zh": "",
        "models": [],
        "trims": "",
        "reveal_at": "",
        "ends_at": "",
        "perk_kind": "",
        "perk_number": "",
        "perk_title_en": "",
        "perk_title_zh": "",
    }


def _campaign_form(campaign: Campaign) -> dict[str, Any]:
    perk = campaign.perk or {}
    return {
        "code": campaign.code,
        "name_en": campaign.name_en,
        "name_zh": campaign.name_zh,
        "models": list(campaign.models),
        "trims": ", ".join(campaign.trims or []),
        "reveal_at": _local(campaign.reveal_at),
        "ends_at": _local(campaign.ends_at),
        "perk_kind": perk.get("kind", ""),
        "perk_number": str(perk.get("limit") or perk.get("hours") or ""),
        "perk_title_en": perk.get("title_en", ""),
        "perk_title_zh": perk.get("title_zh", ""),
    }


def _list_page(
    request: Request,
    session: Session,
    principal: Principal,
    form: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    now = utcnow()
    context = {
        "campaigns": service.list_campaigns(session=session),
        "models": _models(session),
        "form": form or _blank_form(),
        "error": error,
        "now": now,
        "revealed": lambda c: service.is_revealed(c, now),
    }
    return render(request, principal, "campaigns/console_list.html", context, status)


@router.get("")
def campaigns_page(request: Request, session: DbSession, principal: HqStaff) -> Response:
    """Every campaign, and the form to create one."""
    return _list_page(request, session, principal)


class CampaignFormIn(BaseModel):
    """The campaign form as posted (create and edit share it)."""

    csrf_token: str = Field("", max_length=100)
    code: str = Field("", max_length=256)
    name_en: str = Field("", max_length=256)
    name_zh: str = Field("", max_length=256)
    models: list[str] = Field(default_factory=list, max_length=20)
    trims: str = Field("", max_length=256)
    reveal_at: str = Field("", max_length=256)
    ends_at: str = Field("", max_length=256)
    perk_kind: str = Field("", max_length=256)
    perk_number: str = Field("", max_length=256)
    perk_title_en: str = Field("", max_length=256)
    perk_title_zh: str = Field("", max_length=256)

    def values(self) -> dict[str, Any]:
        """The fields as the form template shows them again."""
        return self.model_dump(exclude={"csrf_token"})


CampaignFields = Annotated[CampaignFormIn, Form()]


@router.post("")
def create_campaign(
    request: Request, session: DbSession, principal: HqStaff, posted: CampaignFields
) -> Response:
    """Create a campaign (audited)."""
    check_csrf(request, posted.csrf_token)
    form = posted.values()
    try:
        data = _form_data(form)
        with session.begin_nested():
            campaign = service.create_campaign(
                session=session,
                principal=principal,
                data=data,
                known_models=[m.code for m in _models(session)],
            )
    except ValidationError as err:
        return _list_page(request, session, principal, form, _error_text(err), 422)
    except DomainError as err:
        return _list_page(request, session, principal, form, err.message, 422)
    return RedirectResponse(f"/console/campaigns/{campaign.id}", status_code=303)


def _qr_svg(url: str) -> str:
    """An inline SVG QR code for a link (segno: no JS, nothing fetched)."""
    return str(segno.make(url, error="m").svg_inline(scale=3, dark="#111", light="#fff", omitsize=False))


def _detail_page(
    request: Request,
    session: Session,
    principal: Principal,
    campaign: Campaign,
    form: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    base = public_base_url(request)
    links = [
        {"link": link, "url": f"{base}/go/{link.code}", "qr": _qr_svg(f"{base}/go/{link.code}")}
        for link in attribution.list_links(session=session, campaign_id=campaign.id)
    ]
    versions = (
        session.query(CampaignVersion).filter_by(campaign_id=campaign.id).order_by(CampaignVersion.version)
    )
    context = {
        "campaign": campaign,
        "models": _models(session),
        "form": form or _campaign_form(campaign),
        "links": links,
        "versions": list(versions),
        "revealed": service.is_revealed(campaign),
        "frozen": rules.FROZEN_AT_REVEAL,
        "channels": LinkCreate.model_fields["channel"].annotation.__args__,  # type: ignore[union-attr]
        "error": error,
    }
    return render(request, principal, "campaigns/console_detail.html", context, status)


@router.get("/{campaign_id}")
def campaign_page(request: Request, session: DbSession, principal: HqStaff, campaign_id: int) -> Response:
    """One campaign: its terms (editable as allowed), its versions and its deep links."""
    campaign = service.get_campaign(session=session, campaign_id=campaign_id)
    return _detail_page(request, session, principal, campaign)


@router.post("/{campaign_id}")
def update_campaign(
    request: Request, session: DbSession, principal: HqStaff, campaign_id: int, posted: CampaignFields
) -> Response:
    """Save a change as a new version (audited); after the reveal only a later end is accepted."""
    check_csrf(request, posted.csrf_token)
    campaign = service.get_campaign(session=session, campaign_id=campaign_id)
    form = posted.values() | {"code": campaign.code}
    try:
        data = _form_data(form)
        with session.begin_nested():
            service.update_campaign(
                session=session,
                principal=principal,
                campaign_id=campaign.id,
                data=data,
                known_models=[m.code for m in _models(session)],
            )
    except ValidationError as err:
        return _detail_page(request, session, principal, campaign, form, _error_text(err), 422)
    except DomainError as err:
        return _detail_page(request, session, principal, campaign, form, err.message, 422)
    return RedirectResponse(f"/console/campaigns/{campaign.id}", status_code=303)


@router.post("/{campaign_id}/links")
def create_link(
    request: Request,
    session: DbSession,
    principal: HqStaff,
    campaign_id: int,
    csrf_token: Csrf = "",
    channel: Short = "",
    source: Short = "",
    model: Short = "",
    trim: Short = "",
    options: Short = "",
) -> Response:
    """Issue a deep link (and its QR code) for a channel and source, maybe with a preset configuration."""
    check_csrf(request, csrf_token)
    campaign = service.get_campaign(session=session, campaign_id=campaign_id)
    try:
        data = LinkCreate.model_validate(
            {
                "channel": channel,
                "source": source,
                "model": model,
                "trim": trim.strip() or None,
                "options": [o.strip() for o in options.split(",") if o.strip()],
            }
        )
        with session.begin_nested():
            attribution.create_link(session=session, principal=principal, campaign_id=campaign.id, data=data)
    except ValidationError as err:
        return _detail_page(request, session, principal, campaign, None, _error_text(err), 422)
    except DomainError as err:
        return _detail_page(request, session, principal, campaign, None, err.message, 422)
    return RedirectResponse(f"/console/campaigns/{campaign.id}#links", status_code=303)

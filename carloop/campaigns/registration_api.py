"""Pre-registration JSON API: a campaign's countdown, a phone code, registering interest, a buyer's
own registrations, and HQ's opening notices (progress and waves)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from carloop.accounts import rules as account_rules
from carloop.accounts import service as accounts
from carloop.accounts.edge import client_ip, code_sender, refusal
from carloop.accounts.schemas import Principal, Role
from carloop.campaigns import opening, registrations
from carloop.campaigns import registration_rules as rules
from carloop.campaigns.campaign_view import campaign_by_code
from carloop.campaigns.registration_models import CampaignRegistration
from carloop.clock import FIRST_MOMENT, LAST_MOMENT, utcnow
from carloop.errors import AuthenticationFailed, MessageNotSent, RateLimited
from carloop.web.deps import AppSettings, CurrentCustomer, DbSession, OptionalPrincipal, require_roles

router = APIRouter(tags=["campaigns"])

HQ = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]


class CountdownRead(BaseModel):
    """A campaign before (or after) its reveal, as anyone may see it."""

    campaign_id: int
    name: str
    reveal_at: datetime
    seconds_left: int
    revealed: bool
    models: list[dict[str, str]]


class RegistrationCodeRequest(BaseModel):
    """Ask for a code proving a phone before registering."""

    model_config = ConfigDict(extra="forbid")
    phone: str = Field(max_length=32)


class RegistrationCodeSent(BaseModel):
    """A code went out; ``dev_code`` only where codes are shown on the page (never in production)."""

    sent: bool = True
    expires_in: int
    dev_code: str | None = None


class RegistrationCreate(BaseModel):
    """Register interest: a visitor sends the phone and its code; a signed-in buyer sends neither."""

    model_config = ConfigDict(extra="forbid")
    phone: str | None = Field(default=None, max_length=32)
    code: str | None = Field(default=None, max_length=12)
    model_code: str = Field(max_length=40)
    city: str = Field(max_length=80)
    store_id: int | None = Field(default=None, ge=1, le=2**62)
    channel: str | None = Field(default=None, max_length=80)
    notify: bool = True


class RegistrationRead(BaseModel):
    """A registration as its registrant sees it (the phone masked)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    campaign_id: int
    phone: str
    model_code: str
    city: str
    store_id: int | None
    channel: str
    notify: bool
    linked: bool
    created_at: datetime


class WaveCreate(BaseModel):
    """HQ plans a wave of opening notices for a segment (empty lists: anyone)."""

    model_config = ConfigDict(extra="forbid")
    models: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list, max_length=50)
    cities: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list, max_length=50)
    channels: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list, max_length=50)
    starts_at: datetime | None = Field(default=None, ge=FIRST_MOMENT, le=LAST_MOMENT)


class WaveRead(BaseModel):
    """A planned or running wave."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    segment: dict[str, Any]
    per_second: int
    starts_at: datetime
    queued: int
    queued_all_at: datetime | None


class OpeningRead(BaseModel):
    """Where a campaign's opening notices stand."""

    registered: int
    asked: int
    queued: int
    sent: int
    failed: int
    skipped: int
    per_second: float
    first_sent_at: datetime | None
    last_sent_at: datetime | None


def _read(row: CampaignRegistration) -> RegistrationRead:
    return RegistrationRead(
        id=row.id,
        campaign_id=row.campaign_id,
        phone=account_rules.mask_phone(row.phone),
        model_code=row.model_code,
        city=row.city,
        store_id=row.store_id,
        channel=row.channel,
        notify=row.notify,
        linked=row.customer_id is not None,
        created_at=row.created_at,
    )


@router.get("/campaigns/{slug}/countdown", response_model=CountdownRead)
def countdown(slug: str, request: Request, session: DbSession) -> CountdownRead:
    """Time left until a campaign's reveal (public; no price, nothing to reserve)."""
    campaign = campaign_by_code(session=session, code=slug)
    left = rules.countdown(campaign.reveal_at, utcnow())
    zh = request.state.locale == "zh_CN"
    return CountdownRead(
        campaign_id=campaign.id,
        name=campaign.name_zh if zh else campaign.name_en,
        reveal_at=campaign.reveal_at,
        seconds_left=left.seconds,
        revealed=left.revealed,
        models=[
            {"code": code, "name": zh_en[1] if zh else zh_en[0]}
            for code, zh_en in campaign.model_names.items()
        ],
    )


@router.post(
    "/campaigns/{slug}/registrations/code",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegistrationCodeSent,
    response_model_exclude_none=True,
)
def request_code(
    slug: str,
    body: RegistrationCodeRequest,
    request: Request,
    session: DbSession,
    settings: AppSettings,
) -> Any:
    """Send a code to the phone about to register (limited per phone and per caller address)."""
    campaign = campaign_by_code(session=session, code=slug)
    try:
        sent = registrations.request_code(
            session=session,
            settings=settings,
            campaign_id=campaign.id,
            phone=body.phone,
            ip=client_ip(request),
            sender=code_sender(request),
            locale=request.state.locale,
        )
    except (RateLimited, MessageNotSent) as exc:
        return refusal(request, exc)
    return RegistrationCodeSent(expires_in=sent.expires_in, dev_code=sent.dev_code)


@router.post(
    "/campaigns/{slug}/registrations",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationRead,
)
def register(
    slug: str,
    body: RegistrationCreate,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: OptionalPrincipal,
) -> Any:
    """Register interest in a campaign (a visitor proves the phone with its code; a signed-in buyer
    registers the account's phone and is linked at once)."""
    campaign = campaign_by_code(session=session, code=slug)
    customer_id = principal.customer_id if principal is not None else None
    phone = body.phone or ""
    if customer_id is not None:
        phone = accounts.get_customer(session=session, customer_id=customer_id).phone
    interest = registrations.Interest(
        model_code=body.model_code,
        city=body.city,
        store_id=body.store_id,
        channel=body.channel,
        notify=body.notify,
        locale=request.state.locale,
    )
    try:
        row = registrations.register(
            session=session,
            settings=settings,
            campaign_id=campaign.id,
            phone=phone,
            code=body.code,
            customer_id=customer_id,
            interest=interest,
        )
    except (AuthenticationFailed, RateLimited) as exc:
        return refusal(request, exc)
    return _read(row)


@router.get("/me/registrations", response_model=list[RegistrationRead])
def my_registrations(session: DbSession, me: CurrentCustomer) -> list[RegistrationRead]:
    """My registrations of interest (made signed in, or with my phone before I had an account)."""
    assert me.customer_id is not None
    customer = accounts.get_customer(session=session, customer_id=me.customer_id)
    rows = registrations.of_customer(session=session, customer_id=customer.id, phone=customer.phone)
    return [_read(row) for row in rows]


@router.get("/staff/campaigns/{slug}/opening", response_model=OpeningRead)
def opening_progress(slug: str, session: DbSession, hq: HQ) -> OpeningRead:
    """Registrants and opening notices by status, with the sending rate (HQ)."""
    campaign = campaign_by_code(session=session, code=slug)
    done = opening.progress(session=session, campaign_id=campaign.id)
    return OpeningRead(
        registered=done.registered,
        asked=done.asked,
        queued=done.queued,
        sent=done.sent,
        failed=done.failed,
        skipped=done.skipped,
        per_second=round(done.per_second, 1),
        first_sent_at=done.first_sent_at,
        last_sent_at=done.last_sent_at,
    )


@router.post(
    "/staff/campaigns/{slug}/opening-waves",
    status_code=status.HTTP_201_CREATED,
    response_model=WaveRead,
)
def plan_wave(slug: str, body: WaveCreate, session: DbSession, settings: AppSettings, hq: HQ) -> WaveRead:
    """Plan a wave of opening notices for a segment, at or after the reveal (HQ; audited). The first
    plan replaces the automatic wave for everyone."""
    campaign = campaign_by_code(session=session, code=slug)
    wave = opening.plan_wave(
        session=session,
        settings=settings,
        campaign_id=campaign.id,
        segment=rules.Segment(tuple(body.models), tuple(body.cities), tuple(body.channels)),
        starts_at=body.starts_at,
        principal=hq,
    )
    return WaveRead.model_validate(wave)

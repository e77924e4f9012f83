"""The pre-registration page: a campaign's countdown and the form to register interest (phone proved
by a code for visitors; a signed-in buyer's own phone), without JavaScript (a small script only
ticks the countdown)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from carloop.accounts import rules as account_rules
from carloop.accounts import service as accounts
from carloop.accounts.edge import (
    check_login_csrf,
    client_ip,
    code_sender,
    ensure_device,
    login_csrf_token,
    remember_device,
)
from carloop.campaigns import registration_rules as rules
from carloop.campaigns import registrations
from carloop.campaigns.campaign_view import CampaignView, campaign_by_code
from carloop.clock import utcnow
from carloop.errors import DomainError, RateLimited
from carloop.settings import Settings
from carloop.web import problems
from carloop.web.deps import DbSession, OptionalPrincipal
from carloop.web.i18n import translate_message

router = APIRouter()

Text = Annotated[str, Form(max_length=256)]
CHANNELS = ("web", "livestream", "store", "friend")


def _render(
    request: Request,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    settings: Settings = request.app.state.settings
    context["login_csrf"] = login_csrf_token(settings, ensure_device(request))
    response: Response = request.app.state.renderer.render(
        request, "campaigns/register.html", context, status_code=status_code, headers=headers
    )
    remember_device(request, response, settings)
    return response


def _context(
    request: Request, session: Any, campaign: CampaignView, form: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    left = rules.countdown(campaign.reveal_at, utcnow())
    zh = request.state.locale == "zh_CN"
    channel = form.get("channel", "")
    return {
        "campaign": campaign,
        "campaign_name": campaign.name_zh if zh else campaign.name_en,
        "models": [(code, names[1] if zh else names[0]) for code, names in campaign.model_names.items()],
        "left": left,
        "stores": registrations.stores(session=session),
        "channels": CHANNELS if channel in CHANNELS or not channel else (*CHANNELS, channel),
        "form": form,
        "step": extra.pop("step", "form"),
        "error": extra.pop("error", ""),
        **extra,
    }


def _form(phone: str, model_code: str, city: str, store_id: str, channel: str, notify: str) -> dict[str, Any]:
    return {
        "phone": phone[:32],
        "model_code": model_code[:40],
        "city": city[:40],
        "store_id": store_id[:20],
        "channel": channel[:40],
        "notify": bool(notify),
    }


@router.get("/campaigns/{slug}/register")
def register_page(
    request: Request,
    slug: str,
    session: DbSession,
    principal: OptionalPrincipal,
    channel: str = "",
    done: int = 0,
) -> Response:
    """The countdown and the registration form (``?channel=`` presets where the visitor came from)."""
    campaign = campaign_by_code(session=session, code=slug)
    clean = rules.clean_channel(channel[:60]) or ""
    form = _form("", "", "", "", clean, "1")
    mine = None
    if principal is not None and principal.customer_id is not None:
        customer = accounts.get_customer(session=session, customer_id=principal.customer_id)
        mine = registrations.find(session=session, campaign_id=campaign.id, phone=customer.phone)
    return _render(request, _context(request, session, campaign, form, done=bool(done), mine=mine))


def _refused(request: Request, exc: DomainError) -> tuple[str, int, dict[str, str] | None]:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    message = translate_message(request.state.locale, exc.message)
    return message, problems.status_for(exc), headers


@router.post("/campaigns/{slug}/register/code")
def send_code(
    request: Request,
    slug: str,
    session: DbSession,
    principal: OptionalPrincipal,
    phone: Text = "",
    model_code: Text = "",
    city: Text = "",
    store_id: Text = "",
    channel: Text = "",
    notify: Text = "",
    login_csrf: Text = "",
) -> Response:
    """Send the phone its code and show the form again with the code field."""
    settings: Settings = request.app.state.settings
    campaign = campaign_by_code(session=session, code=slug)
    form = _form(phone, model_code, city, store_id, channel, notify)
    try:
        check_login_csrf(request, settings, login_csrf)
        sent = registrations.request_code(
            session=session,
            settings=settings,
            campaign_id=campaign.id,
            phone=phone,
            ip=client_ip(request),
            sender=code_sender(request),
            locale=request.state.locale,
        )
    except DomainError as exc:  # refused: the counters are kept (the edge commits them)
        message, status, headers = _refused(request, exc)
        return _render(request, _context(request, session, campaign, form, error=message), status, headers)
    form["phone"] = sent.phone
    context = _context(
        request,
        session,
        campaign,
        form,
        step="code",
        masked_phone=account_rules.mask_phone(sent.phone),
        expires_minutes=max(1, sent.expires_in // 60),
        dev_code=sent.dev_code,
    )
    return _render(request, context)


@router.post("/campaigns/{slug}/register")
def register(
    request: Request,
    slug: str,
    session: DbSession,
    principal: OptionalPrincipal,
    phone: Text = "",
    code: Text = "",
    model_code: Text = "",
    city: Text = "",
    store_id: Text = "",
    channel: Text = "",
    notify: Text = "",
    login_csrf: Text = "",
) -> Response:
    """Register (a visitor with the code just sent; a signed-in buyer directly) and show the countdown."""
    settings: Settings = request.app.state.settings
    campaign = campaign_by_code(session=session, code=slug)
    form = _form(phone, model_code, city, store_id, channel, notify)
    customer_id = principal.customer_id if principal is not None else None
    if customer_id is not None:
        phone = accounts.get_customer(session=session, customer_id=customer_id).phone
    store = int(store_id) if store_id.isascii() and store_id.isdigit() and len(store_id) < 18 else None
    interest = registrations.Interest(
        model_code=model_code,
        city=city,
        store_id=store,
        channel=channel,
        notify=bool(notify),
        locale=request.state.locale,
    )
    step = "form" if customer_id is not None else "code"
    try:
        check_login_csrf(request, settings, login_csrf)
        registrations.register(
            session=session,
            settings=settings,
            campaign_id=campaign.id,
            phone=phone,
            code="".join(code.split()),
            customer_id=customer_id,
            interest=interest,
        )
    except DomainError as exc:
        message, status, headers = _refused(request, exc)
        extra: dict[str, Any] = {"step": step, "error": message}
        if step == "code" and account_rules.normalise_phone(phone):
            extra["masked_phone"] = account_rules.mask_phone(account_rules.normalise_phone(phone) or "")
        # Validation refuses before anything is written; a wrong code is counted and kept (committed).
        return _render(request, _context(request, session, campaign, form, **extra), status, headers)
    return RedirectResponse(f"/campaigns/{campaign.code}/register?done=1", status_code=303)

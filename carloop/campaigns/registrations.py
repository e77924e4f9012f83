"""Pre-registration use cases: send a phone its code, register interest in a campaign, link
registrations to the buyer's account at sign-in, read them back.

The code goes out through the app's code sender (the SMS provider in production) with the same
limits as sign-in codes: per phone, per caller address, and five wrong tries burn a code. A failing
call flushes its counters before raising; the edge commits them before answering (as sign-in does).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import column, func, select, table, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carloop.accounts import ratelimit
from carloop.accounts import rules as account_rules
from carloop.accounts.senders import CodeSender, LogSender
from carloop.campaigns import opening
from carloop.campaigns import registration_rules as rules
from carloop.campaigns.campaign_view import CampaignView, campaign_view
from carloop.campaigns.registration_models import CampaignRegistration, RegistrationCode
from carloop.clock import utcnow
from carloop.errors import AuthenticationFailed, Conflict, PolicyViolation
from carloop.settings import Settings
from carloop.sms.rules import REGISTRATION_CODE

BAD_PHONE = "Enter a mainland China mobile number (11 digits starting with 1)."
BAD_CITY = "Enter your city (at most 40 characters)."
BAD_CHANNEL = "The channel tag may hold letters, digits and _ . : - (at most 40)."
BAD_MODEL = "This campaign does not launch that model."
BAD_STORE = "Choose a store in the list, or none."
CLOSED = "This campaign has ended; registration is closed."
NO_CODE = "There is no code waiting for this number. Ask for a new code."
CODE_USED = "This code was already used or replaced by a newer one. Ask for a new code."
CODE_EXPIRED = "This code has expired. Ask for a new code."
CODE_EXHAUSTED = "Too many wrong codes. Ask for a new code."
WRONG_CODE = "That code is not right. Check the message and try again."


@dataclass(frozen=True, slots=True)
class CodeSent:
    """A registration code went out; ``dev_code`` only where codes are shown on the page."""

    phone: str
    expires_in: int
    dev_code: str | None = None


@dataclass(frozen=True, slots=True)
class Interest:
    """What a registrant tells us: the model, the city, and optionally a store and a channel."""

    model_code: str
    city: str
    store_id: int | None = None
    channel: str | None = None
    notify: bool = True
    locale: str = "zh_CN"


def _phone(raw: str) -> str:
    phone = account_rules.normalise_phone(raw)
    if phone is None:
        raise PolicyViolation(BAD_PHONE, field="phone")
    return phone


def _digest(settings: Settings, phone: str, code: str) -> str:
    """A keyed hash distinct from sign-in codes' (a registration code never signs anyone in)."""
    return account_rules.code_digest(settings.secret_key.get_secret_value().encode(), "reg:" + phone, code)


def open_campaign(*, session: Session, campaign_id: int, now: datetime | None = None) -> CampaignView:
    """The campaign if it still takes registrations; ``NotFound`` / ``Conflict`` otherwise."""
    campaign = campaign_view(session=session, campaign_id=campaign_id)
    if not rules.can_register(reveal_at=campaign.reveal_at, ends_at=campaign.ends_at, now=now or utcnow()):
        raise Conflict(CLOSED)
    return campaign


def request_code(
    *,
    session: Session,
    settings: Settings,
    campaign_id: int,
    phone: str,
    ip: str | None,
    sender: CodeSender | None = None,
    locale: str = "zh_CN",
    now: datetime | None = None,
) -> CodeSent:
    """Send ``phone`` a fresh registration code (``RateLimited`` past the per-phone and per-address
    limits; the provider's refusal reaches the caller and the previous code stays live)."""
    now = now or utcnow()
    normalised = _phone(phone)
    open_campaign(session=session, campaign_id=campaign_id, now=now)
    keys = [f"regcode:phone:{normalised}"]
    ratelimit.hit(
        session=session,
        keys=keys,
        limit=settings.otp_requests_per_window,
        window_seconds=settings.rate_window_seconds,
        now=now,
    )
    if ip:
        ratelimit.hit(
            session=session,
            keys=[f"regcode:ip:{ip}"],
            limit=settings.otp_requests_per_ip_window,
            window_seconds=settings.rate_window_seconds,
            now=now,
        )
    code = account_rules.new_code()
    session.flush()  # the counters stay counted even if the sender refuses
    (sender or LogSender()).send(
        session=session,
        phone=normalised,
        code=code,
        ttl_seconds=settings.otp_ttl_seconds,
        locale=locale,
        purpose=REGISTRATION_CODE,
    )
    session.execute(
        update(RegistrationCode)
        .where(RegistrationCode.phone == normalised, RegistrationCode.consumed_at.is_(None))
        .values(consumed_at=now)
    )
    session.add(
        RegistrationCode(
            phone=normalised,
            code_hash=_digest(settings, normalised, code),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.otp_ttl_seconds),
        )
    )
    session.flush()
    return CodeSent(normalised, settings.otp_ttl_seconds, code if settings.shows_codes else None)


def verify_code(*, session: Session, settings: Settings, phone: str, code: str, now: datetime) -> None:
    """Consume the phone's live code if ``code`` is it; ``AuthenticationFailed`` (attempts counted
    and flushed) otherwise."""
    row = session.scalars(
        select(RegistrationCode)
        .where(RegistrationCode.phone == phone)
        .order_by(RegistrationCode.created_at.desc(), RegistrationCode.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        raise AuthenticationFailed(NO_CODE)
    state = account_rules.code_state(
        expires_at=row.expires_at, attempts=row.attempts, consumed=row.consumed_at is not None, now=now
    )
    if state is account_rules.CodeState.CONSUMED:
        raise AuthenticationFailed(CODE_USED)
    if state is account_rules.CodeState.EXPIRED:
        raise AuthenticationFailed(CODE_EXPIRED)
    if state is account_rules.CodeState.EXHAUSTED:
        raise AuthenticationFailed(CODE_EXHAUSTED)
    usable = (
        RegistrationCode.id == row.id,
        RegistrationCode.consumed_at.is_(None),
        RegistrationCode.attempts < account_rules.CODE_MAX_ATTEMPTS,
    )
    if not hmac.compare_digest(_digest(settings, phone, code.strip()), row.code_hash):
        session.execute(
            update(RegistrationCode).where(*usable).values(attempts=RegistrationCode.attempts + 1)
        )
        session.flush()
        session.refresh(row)
        left = max(0, account_rules.CODE_MAX_ATTEMPTS - row.attempts)
        raise AuthenticationFailed(WRONG_CODE if left else CODE_EXHAUSTED, attempts_left=left)
    used = session.execute(update(RegistrationCode).where(*usable).values(consumed_at=now))
    if getattr(used, "rowcount", 0) != 1:  # another request used it a moment ago
        raise AuthenticationFailed(CODE_USED)


def register(
    *,
    session: Session,
    settings: Settings,
    campaign_id: int,
    phone: str,
    interest: Interest,
    code: str | None = None,
    customer_id: int | None = None,
    now: datetime | None = None,
) -> CampaignRegistration:
    """Register (or update) ``phone``'s interest in a campaign.

    A visitor proves the phone with ``code``; a signed-in buyer (``customer_id``, whose phone the
    account already proved) needs none and the registration is linked to the account at once.
    Registering again updates the one registration of that phone.
    """
    now = now or utcnow()
    normalised = _phone(phone)
    campaign = open_campaign(session=session, campaign_id=campaign_id, now=now)
    city = rules.clean_city(interest.city)
    channel = rules.clean_channel(interest.channel)
    if interest.model_code not in campaign.model_codes:
        raise PolicyViolation(BAD_MODEL, field="model_code")
    if city is None:
        raise PolicyViolation(BAD_CITY, field="city")
    if channel is None:
        raise PolicyViolation(BAD_CHANNEL, field="channel")
    if interest.store_id is not None and not _store_exists(session, interest.store_id):
        raise PolicyViolation(BAD_STORE, field="store_id")
    if customer_id is None:
        ratelimit.hit(
            session=session,
            keys=[f"regverify:phone:{normalised}"],
            limit=settings.login_attempts_per_window * 4,
            window_seconds=settings.rate_window_seconds,
            now=now,
        )
        verify_code(session=session, settings=settings, phone=normalised, code=code or "", now=now)
    row = session.scalar(
        select(CampaignRegistration).where(
            CampaignRegistration.campaign_id == campaign_id, CampaignRegistration.phone == normalised
        )
    )
    if row is None:
        row = CampaignRegistration(campaign_id=campaign_id, phone=normalised, created_at=now)
        try:
            with session.begin_nested():
                _fill(row, interest, city, channel, now)
                session.add(row)
        except IntegrityError:  # the same phone registered a moment ago in another request
            found = session.scalar(
                select(CampaignRegistration).where(
                    CampaignRegistration.campaign_id == campaign_id, CampaignRegistration.phone == normalised
                )
            )
            if found is None:
                raise
            row = found
    _fill(row, interest, city, channel, now)
    if customer_id is not None and row.customer_id is None:
        row.customer_id, row.converted_at = customer_id, now
    session.flush()
    opening.ensure_default_wave(session=session, settings=settings, campaign_id=campaign_id)
    return row


def _fill(row: CampaignRegistration, interest: Interest, city: str, channel: str, now: datetime) -> None:
    row.model_code, row.city, row.store_id = interest.model_code, city, interest.store_id
    row.channel, row.notify, row.updated_at = channel, interest.notify, now
    row.locale = interest.locale if interest.locale in ("zh_CN", "en") else "zh_CN"


# The outlets as a bare table: importing the network package would close a cycle (network imports
# ordering, which gates reservations on campaigns). Read-only: id and the names shown in the form.
STORES = table("store", column("id"), column("code"), column("name_en"), column("name_zh"), column("city"))


def _store_exists(session: Session, store_id: int) -> bool:
    return session.scalar(select(STORES.c.id).where(STORES.c.id == store_id)) is not None


def stores(*, session: Session) -> list[dict[str, object]]:
    """The outlets a registrant may prefer (id, names and city), by city."""
    query = select(STORES.c.id, STORES.c.name_en, STORES.c.name_zh, STORES.c.city)
    return [dict(row._mapping) for row in session.execute(query.order_by(STORES.c.city, STORES.c.code))]


def link_to_account(*, session: Session, customer_id: int, phone: str, now: datetime | None = None) -> int:
    """Link every registration of ``phone`` to the account that just signed in with it (one
    statement; registrations already linked stay as they are); how many were linked."""
    result = session.execute(
        update(CampaignRegistration)
        .where(CampaignRegistration.phone == phone, CampaignRegistration.customer_id.is_(None))
        .values(customer_id=customer_id, converted_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def of_customer(*, session: Session, customer_id: int, phone: str) -> list[CampaignRegistration]:
    """A buyer's registrations: linked to the account, or made with its phone and not linked yet."""
    query = select(CampaignRegistration).where(
        (CampaignRegistration.customer_id == customer_id)
        | ((CampaignRegistration.phone == phone) & CampaignRegistration.customer_id.is_(None))
    )
    return list(session.scalars(query.order_by(CampaignRegistration.id.desc())))


def find(*, session: Session, campaign_id: int, phone: str) -> CampaignRegistration | None:
    """The registration of ``phone`` in a campaign, if any."""
    normalised = account_rules.normalise_phone(phone)
    if normalised is None:
        return None
    return session.scalar(
        select(CampaignRegistration).where(
            CampaignRegistration.campaign_id == campaign_id, CampaignRegistration.phone == normalised
        )
    )


def count(*, session: Session, campaign_id: int, notify_only: bool = False) -> int:
    """How many registered for a campaign (only those who asked to be told, if ``notify_only``)."""
    query = select(func.count()).where(CampaignRegistration.campaign_id == campaign_id)
    if notify_only:
        query = query.where(CampaignRegistration.notify.is_(True))
    return int(session.scalar(query) or 0)

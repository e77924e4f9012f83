"""Pre-registration: a visitor proves a phone with a code and registers interest; limits hold; the
registration joins the buyer's account at sign-in; the API and the page refuse bad input clearly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from builders.accounts import customer_headers
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from stand_ins.sms import SmsStandIn

from carloop.accounts import service as accounts
from carloop.accounts.rules import normalise_phone
from carloop.accounts.senders import MemorySender
from carloop.campaigns import registrations
from carloop.campaigns.models import Campaign
from carloop.campaigns.registration_models import CampaignRegistration, OpeningWave
from carloop.errors import AuthenticationFailed, Conflict, PolicyViolation, RateLimited
from carloop.handlers import all_handlers
from carloop.outbox.service import dispatch
from carloop.settings import Settings
from carloop.sms.codes import SmsCodeSender
from carloop.sms.providers import build_gateway
from carloop.sms.rules import TEMPLATES

PHONE = "+8613912345678"


def make_campaign(
    session: Session, *, code: str = "su7-launch", reveal_in: timedelta = timedelta(hours=1)
) -> Campaign:
    """A campaign launching the SU7 and the YU7, revealing ``reveal_in`` from now (stored directly so
    a test may also place the reveal in the past)."""
    now = datetime.now(UTC)
    campaign = Campaign(
        code=code,
        name_en="SU7 launch",
        name_zh="小米SU7 发布会",
        models=["su7", "yu7"],
        trims=[],
        reveal_at=now + reveal_in,
        ends_at=now + reveal_in + timedelta(days=30),
        perk=None,
        perks_taken=0,
        version=1,
        created_by="test",
    )
    session.add(campaign)
    session.flush()
    return campaign


INTEREST = registrations.Interest(model_code="su7", city=" 上海 ", channel="livestream")


def _register_with_code(session: Session, settings: Settings, campaign_id: int, phone: str = PHONE) -> int:
    sender = MemorySender()
    registrations.request_code(
        session=session, settings=settings, campaign_id=campaign_id, phone=phone, ip="10.0.0.1", sender=sender
    )
    row = registrations.register(
        session=session,
        settings=settings,
        campaign_id=campaign_id,
        phone=phone,
        code=sender.last_code(normalise_phone(phone) or phone),
        interest=INTEREST,
    )
    return row.id


def test_a_visitor_registers_with_the_code_sent_to_the_phone(session: Session, settings: Settings) -> None:
    campaign = make_campaign(session)
    registration_id = _register_with_code(session, settings, campaign.id, phone="139 1234 5678")
    row = session.get(CampaignRegistration, registration_id)
    assert row is not None
    assert (row.phone, row.model_code, row.city, row.channel, row.notify) == (
        PHONE,
        "su7",
        "上海",
        "livestream",
        True,
    )
    assert row.customer_id is None
    # the campaign now has its automatic wave: everyone, at the reveal
    wave = session.scalar(select(OpeningWave).where(OpeningWave.campaign_id == campaign.id))
    assert (
        wave is not None
        and wave.starts_at == campaign.reveal_at.replace(tzinfo=UTC)
        and wave.segment
        == {
            "models": [],
            "cities": [],
            "channels": [],
        }
    )


def test_registering_again_updates_the_one_registration_of_the_phone(
    session: Session, settings: Settings
) -> None:
    campaign = make_campaign(session)
    first = _register_with_code(session, settings, campaign.id)
    again = _register_with_code(session, settings, campaign.id)
    assert first == again
    assert registrations.count(session=session, campaign_id=campaign.id) == 1


def test_a_wrong_code_is_refused_and_five_burn_it(session: Session, settings: Settings) -> None:
    campaign = make_campaign(session)
    sender = MemorySender()
    registrations.request_code(
        session=session, settings=settings, campaign_id=campaign.id, phone=PHONE, ip=None, sender=sender
    )
    right = sender.last_code(PHONE)
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1):
        with pytest.raises(AuthenticationFailed) as refused:
            registrations.register(
                session=session,
                settings=settings,
                campaign_id=campaign.id,
                phone=PHONE,
                code=wrong,
                interest=INTEREST,
            )
        assert refused.value.data["attempts_left"] == left
    with pytest.raises(AuthenticationFailed, match="Too many wrong codes"):
        registrations.register(
            session=session,
            settings=settings,
            campaign_id=campaign.id,
            phone=PHONE,
            code=wrong,
            interest=INTEREST,
        )
    with pytest.raises(AuthenticationFailed, match="Too many wrong codes"):  # even the right one now
        registrations.register(
            session=session,
            settings=settings,
            campaign_id=campaign.id,
            phone=PHONE,
            code=right,
            interest=INTEREST,
        )


def test_a_sign_in_code_never_registers_and_a_registration_code_never_signs_in(
    session: Session, settings: Settings
) -> None:
    from carloop.accounts import service as accounts

    campaign = make_campaign(session)
    sender = MemorySender()
    accounts.request_login_code(session=session, settings=settings, phone=PHONE, ip=None, sender=sender)
    with pytest.raises(AuthenticationFailed):
        registrations.register(
            session=session,
            settings=settings,
            campaign_id=campaign.id,
            phone=PHONE,
            code=sender.last_code(PHONE),
            interest=INTEREST,
        )
    registrations.request_code(
        session=session,
        settings=settings,
        campaign_id=campaign.id,
        phone="13900000001",
        ip=None,
        sender=sender,
    )
    with pytest.raises(AuthenticationFailed):
        accounts.sign_in_with_code(
            session=session,
            settings=settings,
            phone="13900000001",
            code=sender.last_code("+8613900000001"),
            ip=None,
        )


def test_code_requests_are_limited_per_phone(session: Session, settings: Settings) -> None:
    campaign = make_campaign(session)
    sender = MemorySender()
    for _ in range(settings.otp_requests_per_window):
        registrations.request_code(
            session=session, settings=settings, campaign_id=campaign.id, phone=PHONE, ip=None, sender=sender
        )
    with pytest.raises(RateLimited) as limited:
        registrations.request_code(
            session=session, settings=settings, campaign_id=campaign.id, phone=PHONE, ip=None, sender=sender
        )
    assert limited.value.data["retry_after"] >= 1
    assert len(sender.sent) == settings.otp_requests_per_window


@pytest.mark.parametrize(
    ("interest", "field"),
    [
        (registrations.Interest(model_code="model-x", city="上海"), "model_code"),
        (registrations.Interest(model_code="su7", city="   "), "city"),
        (registrations.Interest(model_code="su7", city="上海", channel="<b>"), "channel"),
        (registrations.Interest(model_code="su7", city="上海", store_id=987654), "store_id"),
    ],
    ids=["model", "city", "channel", "store"],
)
def test_bad_interest_is_refused_by_field_before_the_code_is_spent(
    session: Session, settings: Settings, interest: registrations.Interest, field: str
) -> None:
    campaign = make_campaign(session)
    sender = MemorySender()
    registrations.request_code(
        session=session, settings=settings, campaign_id=campaign.id, phone=PHONE, ip=None, sender=sender
    )
    with pytest.raises(PolicyViolation) as refused:
        registrations.register(
            session=session,
            settings=settings,
            campaign_id=campaign.id,
            phone=PHONE,
            code=sender.last_code(PHONE),
            interest=interest,
        )
    assert refused.value.data["field"] == field
    registrations.register(  # the code is still good
        session=session,
        settings=settings,
        campaign_id=campaign.id,
        phone=PHONE,
        code=sender.last_code(PHONE),
        interest=INTEREST,
    )


def test_an_ended_campaign_takes_no_registrations(session: Session, settings: Settings) -> None:
    campaign = make_campaign(session, reveal_in=timedelta(days=-40))
    with pytest.raises(Conflict, match="ended"):
        registrations.request_code(
            session=session,
            settings=settings,
            campaign_id=campaign.id,
            phone=PHONE,
            ip=None,
            sender=MemorySender(),
        )


def test_sign_in_links_the_phones_registrations_to_the_account(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_factory.begin() as session:
        campaign = make_campaign(session)
        registration_id = _register_with_code(session, settings, campaign.id)
    headers = customer_headers(client, PHONE)
    # before the event is handled the buyer already sees it (made with their phone)
    mine = client.get("/api/v1/me/registrations", headers=headers).json()
    assert [(r["id"], r["linked"], r["phone"]) for r in mine] == [(registration_id, False, "139****5678")]
    while dispatch(session_factory, all_handlers(settings)):
        pass
    with session_factory() as session:
        row = session.get(CampaignRegistration, registration_id)
        assert row is not None and row.customer_id is not None and row.converted_at is not None
    mine = client.get("/api/v1/me/registrations", headers=headers).json()
    assert [(r["id"], r["linked"]) for r in mine] == [(registration_id, True)]
    other = customer_headers(client, "13900000002")
    assert client.get("/api/v1/me/registrations", headers=other).json() == []


def test_the_api_registers_a_visitor_and_a_signed_in_buyer(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_campaign(session)
    countdown = client.get("/api/v1/campaigns/su7-launch/countdown").json()
    assert countdown["revealed"] is False and 3500 <= countdown["seconds_left"] <= 3600
    assert "price" not in str(countdown).lower()
    sent = client.post("/api/v1/campaigns/su7-launch/registrations/code", json={"phone": "13912345678"})
    assert sent.status_code == 202
    body = {"phone": "13912345678", "code": sent.json()["dev_code"], "model_code": "yu7", "city": "北京"}
    made = client.post("/api/v1/campaigns/su7-launch/registrations", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["phone"] == "139****5678" and made.json()["linked"] is False
    again = client.post("/api/v1/campaigns/su7-launch/registrations", json=body)
    assert again.status_code == 401 and again.headers["content-type"].startswith("application/problem+json")
    headers = customer_headers(client, "13900000003")
    mine = client.post(
        "/api/v1/campaigns/su7-launch/registrations",
        json={"model_code": "su7", "city": "深圳", "notify": False},
        headers=headers,
    )
    assert mine.status_code == 201 and mine.json()["linked"] is True and mine.json()["notify"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "12345", "code": "123456", "model_code": "su7", "city": "上海"},
        {"phone": "13912345678", "code": "123456", "model_code": "su7", "city": "上海", "extra": 1},
        {"phone": "13912345678", "code": "123456", "model_code": "su7", "city": "上海", "store_id": -1},
        {"phone": ["x"], "model_code": "su7", "city": "上海"},
        {"phone": "13912345678", "code": "123456", "model_code": "x" * 500, "city": "上海"},
    ],
    ids=["phone", "extra", "store", "type", "long"],
)
def test_malformed_registrations_get_a_problem_never_a_500(
    client: TestClient, session_factory: sessionmaker[Session], body: dict[str, object]
) -> None:
    with session_factory.begin() as session:
        make_campaign(session)
    answer = client.post("/api/v1/campaigns/su7-launch/registrations", json=body)
    assert answer.status_code in (401, 422), answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_an_unknown_campaign_is_a_404(client: TestClient) -> None:
    assert client.get("/api/v1/campaigns/nope/countdown").status_code == 404
    assert client.get("/campaigns/nope/register", headers={"Accept": "text/html"}).status_code == 404


def test_the_page_registers_a_visitor_in_two_steps_in_chinese(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_campaign(session)
    page = client.get("/campaigns/su7-launch/register?channel=kol:li-ming", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "距离公布价格、开放订购还有" in page.text
    assert 'value="kol:li-ming" selected' in page.text
    csrf = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert csrf
    form = {
        "login_csrf": csrf.group(1),
        "phone": "13912345678",
        "model_code": "su7",
        "city": "杭州",
        "channel": "kol:li-ming",
        "notify": "1",
    }
    step = client.post("/campaigns/su7-launch/register/code", data=form)
    assert step.status_code == 200 and "验证码已发送至 139****5678" in step.text
    code = re.search(r'data-testid="dev-code">[^<]*<strong>(\d{6})</strong>', step.text)
    assert code
    wrong = client.post(
        "/campaigns/su7-launch/register", data={**form, "phone": "+8613912345678", "code": "0"}
    )
    assert wrong.status_code == 401 and "验证码不正确，请核对短信后重试。" in wrong.text
    done = client.post(
        "/campaigns/su7-launch/register",
        data={**form, "phone": "+8613912345678", "code": code.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = client.get(done.headers["location"], headers={"Accept": "text/html"})
    assert "预约成功" in shown.text
    with session_factory() as session:
        row = session.scalar(select(CampaignRegistration))
        assert row is not None and (row.city, row.channel) == ("杭州", "kol:li-ming")


def test_the_page_refuses_a_forged_form(client: TestClient, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        make_campaign(session)
    client.get("/campaigns/su7-launch/register", headers={"Accept": "text/html"})
    forged = client.post(
        "/campaigns/su7-launch/register/code",
        data={"login_csrf": "forged", "phone": "13912345678", "model_code": "su7", "city": "杭州"},
    )
    assert forged.status_code == 403


def test_the_registration_code_goes_out_with_its_own_template_not_the_sign_in_one(
    session: Session, settings: Settings, tencent_sms: SmsStandIn
) -> None:
    settings = Settings(**{**settings.model_dump(), **tencent_sms.settings()})
    gateway = build_gateway(settings)
    assert gateway is not None
    sender = SmsCodeSender(settings, gateway)
    campaign = make_campaign(session)
    registrations.request_code(
        session=session, settings=settings, campaign_id=campaign.id, phone=PHONE, ip=None, sender=sender
    )
    accounts.request_login_code(session=session, settings=settings, phone=PHONE, ip=None, sender=sender)
    registration, sign_in = tencent_sms.to(PHONE)
    assert registration.template == tencent_sms.templates["registration_code"]
    assert sign_in.template == tencent_sms.templates["login_code"]
    assert "预约" in TEMPLATES["registration_code"].text_zh and set(registration.params) == {
        "code",
        "minutes",
    }
    row = registrations.register(
        session=session,
        settings=settings,
        campaign_id=campaign.id,
        phone=PHONE,
        code=registration.params["code"],
        interest=INTEREST,
    )
    assert row.phone == PHONE

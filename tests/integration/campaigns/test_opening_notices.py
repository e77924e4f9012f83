"""Opening notices: at the reveal every registrant who asked is told once (SMS through the provider's
stand-in, in-app for those with an account), at the provider's rate, by segment, and a crash in the
middle resumes without telling anyone twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from stand_ins.sms import SmsStandIn

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Principal, Role
from carloop.audit.models import AuditEntry
from carloop.campaigns import opening
from carloop.campaigns import registration_rules as rules
from carloop.campaigns.registration_models import CampaignRegistration, OpeningNotice, OpeningWave
from carloop.catalog import service as catalog
from carloop.clock import as_utc
from carloop.notices.models import Notice
from carloop.outbox.service import dispatch
from carloop.settings import Settings
from carloop.sms.gateways import SmsGateway
from carloop.sms.providers import build_gateway

from .test_prereg_registrations import make_campaign


class Crash(BaseException):
    """The process dies here (not an error any handler would catch)."""


def _registrants(session: Session, campaign_id: int, rows: list[tuple[str, str, str, bool]]) -> None:
    for i, (model, city, channel, notify) in enumerate(rows):
        session.add(
            CampaignRegistration(
                campaign_id=campaign_id,
                phone=f"+86137{i:08d}",
                model_code=model,
                city=city,
                channel=channel,
                notify=notify,
                locale="en" if i == 1 else "zh_CN",
            )
        )
    session.flush()


def _settings(settings: Settings, sms: SmsStandIn, per_second: int = 100) -> Settings:
    return Settings(**{**settings.model_dump(), **sms.settings(), "campaign_notice_per_second": per_second})


def _send_all(factory: sessionmaker[Session], settings: Settings, at: datetime, gateway: Any = None) -> int:
    handlers = opening.handlers(settings, gateway)
    sent = 0
    while handled := dispatch(factory, handlers, now=at):
        sent += handled
    return sent


Rows = list[tuple[str, str, str, bool]]


def _revealed(factory: sessionmaker[Session], settings: Settings, rows: Rows) -> Any:
    with factory.begin() as session:
        campaign = make_campaign(session, reveal_in=timedelta(minutes=5))
        _registrants(session, campaign.id, rows)
        opening.ensure_default_wave(session=session, settings=settings, campaign_id=campaign.id)
        return campaign.id, as_utc(campaign.reveal_at)


EIGHT = [
    *[("su7", "上海", "livestream", True)] * 4,
    *[("yu7", "北京", "", True)] * 3,
    ("su7", "上海", "", False),
]


def test_every_registrant_who_asked_is_told_once_at_the_reveal(
    session_factory: sessionmaker[Session], settings: Settings, tencent_sms: SmsStandIn
) -> None:
    settings = _settings(settings, tencent_sms)
    models = catalog.current_catalog().models
    campaign_id, reveal = _revealed(session_factory, settings, EIGHT)
    with session_factory.begin() as session:
        owner = accounts.get_or_create_customer(session=session, phone="+8613700000000")
        owner_id = owner.id
    assert opening.open_due(session_factory, reveal - timedelta(seconds=1)) == 0  # not before the reveal
    assert opening.open_due(session_factory, reveal) == 7
    assert opening.open_due(session_factory, reveal + timedelta(seconds=5)) == 0  # queued once
    assert _send_all(session_factory, settings, reveal + timedelta(seconds=1)) == 7
    assert _send_all(session_factory, settings, reveal + timedelta(minutes=5)) == 0
    received = Counter(m.phone for m in tencent_sms.received)
    assert received == Counter({f"+86137{i:08d}": 1 for i in range(7)})  # the eighth did not ask
    by_phone = {m.phone: m.params["model"] for m in tencent_sms.received}
    assert by_phone["+8613700000000"] == models["su7"].name_zh
    assert by_phone["+8613700000001"] == models["su7"].name_en  # registered in English
    with session_factory() as session:
        statuses = Counter(session.scalars(select(OpeningNotice.status)))
        assert statuses == Counter({rules.NoticeStatus.SENT: 7})
        notice = session.scalar(select(Notice).where(Notice.customer_id == owner_id))
        assert notice is not None and notice.kind == "orders_open" and "现已开放订购" in notice.body_zh
        done = opening.progress(session=session, campaign_id=campaign_id)
        assert (done.registered, done.asked, done.sent, done.queued) == (8, 7, 7, 0)


def test_the_rate_holds_each_second_carries_at_most_the_providers_rate(
    session_factory: sessionmaker[Session], settings: Settings, tencent_sms: SmsStandIn
) -> None:
    settings = _settings(settings, tencent_sms, per_second=3)
    _, reveal = _revealed(session_factory, settings, [("su7", "上海", "", True)] * 10)
    opening.open_due(session_factory, reveal)
    with session_factory() as session:
        slots = Counter(as_utc(d) for d in session.scalars(select(OpeningNotice.due_at)))
    assert sorted(slots.values()) == [1, 3, 3, 3] and min(slots) == reveal
    assert _send_all(session_factory, settings, reveal) == 3  # only the first second's share is due
    assert _send_all(session_factory, settings, reveal + timedelta(seconds=2)) == 6
    assert _send_all(session_factory, settings, reveal + timedelta(seconds=3)) == 1
    assert len(tencent_sms.received) == 10


class CrashingGateway:
    """The real gateway, but the process dies on the ``at``-th send (before or after the provider
    took the message)."""

    def __init__(self, real: SmsGateway, at: int) -> None:
        self.real, self.at, self.calls = real, at, 0
        self.name = real.name

    def send(self, *, phone: str, template_code: str, purpose: str, params: Mapping[str, str]) -> str:
        self.calls += 1
        if self.calls == self.at:
            raise Crash
        return self.real.send(phone=phone, template_code=template_code, purpose=purpose, params=params)


def test_a_crash_mid_send_resumes_and_tells_each_registrant_exactly_once(
    session_factory: sessionmaker[Session], settings: Settings, tencent_sms: SmsStandIn
) -> None:
    settings = _settings(settings, tencent_sms)
    rows = [("su7", "上海", "", True)] * 12
    _, reveal = _revealed(session_factory, settings, rows)
    opening.open_due(session_factory, reveal)
    real = build_gateway(settings)
    assert real is not None
    with pytest.raises(Crash):
        _send_all(session_factory, settings, reveal + timedelta(seconds=1), CrashingGateway(real, at=6))
    assert len(tencent_sms.received) == 5
    with session_factory() as session:  # the one in flight is neither sent nor lost
        statuses = Counter(session.scalars(select(OpeningNotice.status)))
        assert statuses == Counter({rules.NoticeStatus.SENT: 5, rules.NoticeStatus.QUEUED: 7})
    # a fresh process resumes
    assert _send_all(session_factory, settings, reveal + timedelta(seconds=1)) == 7
    assert Counter(m.phone for m in tencent_sms.received) == Counter({f"+86137{i:08d}": 1 for i in range(12)})


def test_a_crash_while_queueing_resumes_at_the_next_chunk_without_queueing_twice(
    session_factory: sessionmaker[Session],
    settings: Settings,
    tencent_sms: SmsStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _settings(settings, tencent_sms)
    _, reveal = _revealed(session_factory, settings, [("su7", "上海", "", True)] * 11)
    real_chunk = opening.queue_chunk
    chunks = {"n": 0}

    def dying_chunk(*, session: Session, wave: OpeningWave, now: datetime, limit: int = 4) -> int:
        chunks["n"] += 1
        if chunks["n"] == 3:
            real_chunk(session=session, wave=wave, now=now, limit=4)
            raise Crash  # after the third chunk's rows were written, before its commit
        return real_chunk(session=session, wave=wave, now=now, limit=4)

    monkeypatch.setattr(opening, "queue_chunk", dying_chunk)
    with pytest.raises(Crash):
        opening.open_due(session_factory, reveal)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(OpeningNotice)) == 8
    assert opening.open_due(session_factory, reveal) == 3
    assert _send_all(session_factory, settings, reveal + timedelta(seconds=1)) == 11
    assert sorted(Counter(m.phone for m in tencent_sms.received).values()) == [1] * 11


def test_hq_segments_the_notices_by_model_and_city_in_waves(
    session_factory: sessionmaker[Session], settings: Settings, tencent_sms: SmsStandIn
) -> None:
    settings = _settings(settings, tencent_sms)
    campaign_id, reveal = _revealed(session_factory, settings, EIGHT)
    hq = Principal(role=Role.HQ_OPS, staff_id=1, display_name="HQ")
    with session_factory.begin() as session:
        opening.plan_wave(
            session=session,
            settings=settings,
            campaign_id=campaign_id,
            segment=rules.Segment(models=("yu7",), cities=("北京",)),
            principal=hq,
        )
        later = opening.plan_wave(
            session=session,
            settings=settings,
            campaign_id=campaign_id,
            segment=rules.Segment(),
            starts_at=reveal + timedelta(hours=1),
            principal=hq,
        )
        assert later.starts_at == reveal + timedelta(hours=1)
        # HQ's plan replaced the automatic wave
        assert session.scalar(select(func.count()).select_from(OpeningWave)) == 2
        assert session.scalar(select(func.count()).where(AuditEntry.action == "campaign.opening.plan")) == 2
    assert opening.open_due(session_factory, reveal) == 3
    _send_all(session_factory, settings, reveal + timedelta(seconds=1))
    assert len(tencent_sms.received) == 3
    assert opening.open_due(session_factory, reveal + timedelta(hours=1)) == 4  # the rest, once
    _send_all(session_factory, settings, reveal + timedelta(hours=1, seconds=1))
    assert sorted(Counter(m.phone for m in tencent_sms.received).values()) == [1] * 7


def test_a_wave_cannot_start_before_the_reveal(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    from carloop.errors import Conflict

    campaign_id, reveal = _revealed(session_factory, settings, [])
    with session_factory.begin() as session, pytest.raises(Conflict):
        opening.plan_wave(
            session=session,
            settings=settings,
            campaign_id=campaign_id,
            segment=rules.Segment(),
            starts_at=reveal - timedelta(seconds=1),
        )


def test_a_number_the_provider_refuses_fails_for_good_and_an_outage_waits(
    session_factory: sessionmaker[Session], settings: Settings, tencent_sms: SmsStandIn
) -> None:
    settings = _settings(settings, tencent_sms)
    _, reveal = _revealed(session_factory, settings, [("su7", "上海", "", True)] * 2)
    opening.open_due(session_factory, reveal)
    tencent_sms.outage = 1
    _send_all(session_factory, settings, reveal + timedelta(seconds=1))
    with session_factory() as session:
        statuses = Counter(session.scalars(select(OpeningNotice.status)))
    assert statuses == Counter({rules.NoticeStatus.SENT: 1, rules.NoticeStatus.QUEUED: 1})
    tencent_sms.refuse = "InvalidParameterValue.IncorrectPhoneNumber"
    _send_all(session_factory, settings, reveal + timedelta(minutes=5))
    with session_factory() as session:
        statuses = Counter(session.scalars(select(OpeningNotice.status)))
    assert statuses == Counter({rules.NoticeStatus.SENT: 1, rules.NoticeStatus.FAILED: 1})


class CrashingBatches:
    """The real batching gateway, but the process dies on the ``at``-th request, before the provider
    sees it."""

    def __init__(self, real: Any, at: int) -> None:
        self.real, self.at, self.requests = real, at, 0
        self.name, self.batch_size = real.name, 3

    def send(self, *, phone: str, template_code: str, purpose: str, params: Mapping[str, str]) -> str:
        return self.real.send(phone=phone, template_code=template_code, purpose=purpose, params=params)

    def send_batch(self, *, phones: Any, template_code: str, purpose: str, params: Mapping[str, str]) -> Any:
        self.requests += 1
        if self.requests == self.at:
            raise Crash
        return self.real.send_batch(
            phones=phones, template_code=template_code, purpose=purpose, params=params
        )


@pytest.mark.parametrize("crash_at", [1, 3])
def test_batches_go_in_one_request_each_and_a_crash_resumes_telling_each_once(
    session_factory: sessionmaker[Session], settings: Settings, tencent_sms: SmsStandIn, crash_at: int
) -> None:
    settings = _settings(settings, tencent_sms)
    campaign_id, reveal = _revealed(session_factory, settings, [])
    with session_factory.begin() as session:  # one text for all (Chinese, one model)
        _registrants(session, campaign_id, [("su7", "上海", "", True)] * 10)
        session.execute(update(CampaignRegistration).values(locale="zh_CN"))
    opening.open_due(session_factory, reveal)
    real = build_gateway(settings)
    assert real is not None
    crashing = CrashingBatches(real, at=crash_at)
    with pytest.raises(Crash):
        _send_all(session_factory, settings, reveal + timedelta(seconds=1), crashing)
    told_before = len(tencent_sms.received)
    assert told_before == 3 * (crash_at - 1)  # every batch before the crash was one request of three
    with session_factory() as session:
        statuses = Counter(session.scalars(select(OpeningNotice.status)))
    assert statuses == Counter(
        {rules.NoticeStatus.SENT: told_before, rules.NoticeStatus.QUEUED: 10 - told_before}
    )
    resumed = CrashingBatches(real, at=0)
    assert _send_all(session_factory, settings, reveal + timedelta(seconds=1), resumed) == 10 - told_before
    assert resumed.requests == -(-(10 - told_before) // 3)
    assert Counter(m.phone for m in tencent_sms.received) == Counter({f"+86137{i:08d}": 1 for i in range(10)})


def test_a_number_refused_in_a_batch_fails_alone(
    session_factory: sessionmaker[Session], settings: Settings, tencent_sms: SmsStandIn
) -> None:
    settings = _settings(settings, tencent_sms)
    campaign_id, reveal = _revealed(session_factory, settings, [("su7", "上海", "", True)] * 4)
    with session_factory.begin() as session:  # a number the provider cannot deliver to
        session.add(
            CampaignRegistration(
                campaign_id=campaign_id, phone="+85291234567", model_code="su7", city="上海", notify=True
            )
        )
    opening.open_due(session_factory, reveal)
    assert _send_all(session_factory, settings, reveal + timedelta(seconds=1)) == 5
    with session_factory() as session:
        statuses = Counter(session.scalars(select(OpeningNotice.status)))
    assert statuses == Counter({rules.NoticeStatus.SENT: 4, rules.NoticeStatus.FAILED: 1})
    assert len(tencent_sms.received) == 4


def test_dispatchers_side_by_side_tell_each_registrant_once(
    session_factory: sessionmaker[Session], settings: Settings, tencent_sms: SmsStandIn
) -> None:
    """Four dispatchers at once: on PostgreSQL each claims batches the others skip (SKIP LOCKED), on
    SQLite they take turns; nobody is told twice and nobody is left out."""
    settings = _settings(settings, tencent_sms, per_second=1000)
    _, reveal = _revealed(session_factory, settings, [("su7", "上海", "", True)] * 150)
    opening.open_due(session_factory, reveal)
    handlers = opening.handlers(settings)
    for sender in handlers[opening.OpeningDue.name]:
        assert isinstance(sender, opening.OpeningSender)
        sender.gateway = SmallBatches(sender.gateway, 7)
    handled: list[int] = []

    def run() -> None:
        while got := dispatch(session_factory, handlers, limit=20, now=reveal + timedelta(seconds=1)):
            handled.append(got)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(handled) == 150
    assert Counter(m.phone for m in tencent_sms.received) == Counter(
        {f"+86137{i:08d}": 1 for i in range(150)}
    )


class SmallBatches:
    """The real gateway with a smaller batch (more batches, more chances to collide)."""

    def __init__(self, real: Any, size: int) -> None:
        self.real, self.name, self.batch_size = real, real.name, size

    def send(self, **kwargs: Any) -> str:
        return str(self.real.send(**kwargs))

    def send_batch(self, **kwargs: Any) -> Any:
        return self.real.send_batch(**kwargs)

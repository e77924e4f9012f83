"""Done when: a buyer whose ETA changes gets exactly one SMS and one in-app notice, in their
language, through the one notice system; an SMS provider outage delays the SMS (the outbox defers
and retries it) without losing or doubling it. The provider is a signature-checking local stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from stand_ins.sms import SmsStandIn, serve_sms

from carloop.accounts import service as accounts
from carloop.clock import utcnow
from carloop.handlers import all_handlers
from carloop.notices import service as notices
from carloop.notices.delivery import Deliverer
from carloop.notices.models import Notice, NoticeDelivery
from carloop.outbox.models import OutboxEvent
from carloop.outbox.service import dispatch
from carloop.production import rules, service
from carloop.settings import Settings
from carloop.sms.models import SmsMessage

from ..sms.test_sms_sign_in import production
from .conftest import locked_order, run_events, tiny_plan, use_plan

ANNA, BO = "13800138001", "13800138002"  # Anna reads English, Bo Chinese


@pytest.fixture(params=["aliyun", "tencent"])
def sms(request: pytest.FixtureRequest) -> Iterator[SmsStandIn]:
    with serve_sms(request.param) as standin:
        yield standin


def _line_stop(factory: sessionmaker[Session]) -> None:
    """Line 1 stops this week: every planned car moves a week later (an ETA change)."""
    monday = rules.week_start(rules.week_of(service.today()))
    stop = {
        "target": "l1",
        "start": monday.isoformat(),
        "weeks": 1,
        "remaining": 0.0,
        "reason": "Line 1 stop",
    }
    use_plan(factory, tiny_plan(weekly=1, outages=[stop]), reason="line stop")


def _buyers(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory.begin() as session:
        ids = {p: accounts.get_or_create_customer(session=session, phone=p).id for p in (ANNA, BO)}
        notices.set_preferences(
            session=session, customer_id=ids[ANNA], locale="en", email="", email_on=False, sms_on=True
        )
    return ids


def _eta(sms: SmsStandIn) -> list[Any]:
    """The ETA-change messages the provider received (the deposit's money SMS aside)."""
    codes = {sms.templates["eta_changed"], sms.templates["eta_changed:en"]}
    return [m for m in sms.received if m.template in codes]


def _deliver(factory: sessionmaker[Session], settings: Settings, *, at: timedelta = timedelta()) -> int:
    handlers = all_handlers(settings)
    total = 0
    while n := dispatch(factory, handlers, now=utcnow() + at):
        total += n
    return total


def test_an_eta_change_sends_one_sms_and_one_in_app_notice_in_the_buyers_language(
    session_factory: sessionmaker[Session], settings: Settings, sms: SmsStandIn
) -> None:
    with_sms = Settings(**{**settings.model_dump(), **sms.settings()})
    ids = _buyers(session_factory)
    use_plan(session_factory, tiny_plan(weekly=1))
    numbers = {p: locked_order(session_factory, phone=p) for p in (ANNA, BO)}
    run_events(session_factory)
    _deliver(session_factory, with_sms)
    assert _eta(sms) == []  # the first window is an in-app notice only

    _line_stop(session_factory)
    run_events(session_factory)  # a dispatcher without provider settings leaves the SMS waiting...
    assert _eta(sms) == []
    _deliver(session_factory, with_sms, at=timedelta(minutes=1))  # ...for the server's, which sends it

    for phone, template in ((ANNA, "eta_changed:en"), (BO, "eta_changed")):
        [message] = [m for m in _eta(sms) if m.phone == "+86" + phone]
        assert message.template == sms.templates[template]
        assert message.params["order"] == numbers[phone] and "至" in message.params["date"]
    with session_factory() as session:
        for customer_id in ids.values():
            changes = [
                n for n in notices.inbox(session=session, customer_id=customer_id) if n.kind == "window_later"
            ]
            [change] = changes
            channels = {d.channel: d.status for d in notices.deliveries(session=session, notice_id=change.id)}
            assert channels == {"inapp": "sent", "sms": "sent"}
            assert "Line 1 stop" in change.body_en and "原因" in change.body_zh
        assert len(list(session.scalars(select(SmsMessage)))) == 4  # and each deposit's money SMS
    _deliver(session_factory, with_sms, at=timedelta(hours=1))
    assert len(_eta(sms)) == 2 and len(sms.received) == 4  # nothing more on later passes


def test_a_provider_outage_delays_the_sms_without_losing_or_doubling_it(
    session_factory: sessionmaker[Session], settings: Settings, sms: SmsStandIn
) -> None:
    with_sms = Settings(**{**settings.model_dump(), **sms.settings()})
    use_plan(session_factory, tiny_plan(weekly=1))
    locked_order(session_factory, phone=BO)
    run_events(session_factory)
    _deliver(session_factory, with_sms, at=timedelta(minutes=1))  # the deposit's money SMS goes first
    _line_stop(session_factory)
    run_events(session_factory)
    sms.outage = 3
    waited = timedelta()
    for _ in range(10):  # each pass at the event's next time meets the outage; it waits longer each time
        if sms.outage == 0:
            break
        assert _deliver(session_factory, with_sms, at=waited) == 0
        with session_factory() as session:
            due = session.scalars(
                select(OutboxEvent).where(OutboxEvent.name == "notice.due", OutboxEvent.handled_at.is_(None))
            ).one()
            assert due.handled_at is None and due.available_at is not None
            assert "SMS provider" in due.last_error or "no provider settings" in due.last_error
            waited = due.available_at - utcnow() + timedelta(seconds=1)
    assert sms.refused == ["outage"] * 3 and _eta(sms) == [] and due.deferrals >= 3
    assert _deliver(session_factory, with_sms, at=waited) == 1  # the provider is back
    assert [m.phone for m in _eta(sms)] == ["+86" + BO]
    with session_factory.begin() as session:  # the handler run again (a crash after sending) sends nothing
        notice = session.scalars(select(Notice).where(Notice.kind == "window_later")).one()
        Deliverer(with_sms).handle(session, {"notice_id": notice.id, "channel": "sms"})
        row = session.scalars(select(NoticeDelivery).filter_by(notice_id=notice.id, channel="sms")).one()
        assert row.status == "sent"
    assert len(_eta(sms)) == 1


def test_the_servers_dispatcher_with_production_settings_sends_the_eta_sms(
    session_factory: sessionmaker[Session], database_url: str, sms: SmsStandIn
) -> None:
    server = production(database_url, sms)  # what `carloop serve` runs with: production, real providers
    assert server.environment == "production" and server.sms_provider == sms.provider
    use_plan(session_factory, tiny_plan(weekly=1))
    number = locked_order(session_factory, phone=BO)
    run_events(session_factory)
    _deliver(session_factory, server, at=timedelta(minutes=1))
    _line_stop(session_factory)
    run_events(session_factory)
    _deliver(session_factory, server, at=timedelta(minutes=1))
    [message] = _eta(sms)
    assert (message.phone, message.template) == ("+86" + BO, sms.templates["eta_changed"])
    assert message.params["order"] == number
    with session_factory() as session:
        [change] = session.scalars(select(Notice).where(Notice.kind == "window_later")).all()
        channels = {d.channel: d.status for d in notices.deliveries(session=session, notice_id=change.id)}
        assert channels == {"inapp": "sent", "sms": "sent"}

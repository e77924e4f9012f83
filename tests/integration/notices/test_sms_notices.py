"""Notices that matter go by SMS as well as in-app, each once, in the buyer's language: money captured
and refunded, the warning a day before the configuration locks, and the car's hand-over time. The
SMS provider is a signature-checking local stand-in; an outage delays the SMS without losing it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from stand_ins.sms import SmsStandIn, serve_sms

from carloop.appointments import service as appointments
from carloop.appointments.schemas import AppointmentKind
from carloop.clock import as_utc, utcnow
from carloop.handlers import all_handlers
from carloop.money import format_fen
from carloop.network import service as network
from carloop.notices import service as notices
from carloop.notices.models import Notice
from carloop.ordering import buyer_notices as money
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.outbox.models import OutboxEvent
from carloop.outbox.service import dispatch
from carloop.settings import Settings

from ..network.conftest import PROVIDER, advance_to, buyer, paid_order, seed


@pytest.fixture
def sms() -> Iterator[SmsStandIn]:
    with serve_sms("tencent") as standin:
        yield standin


@pytest.fixture
def with_sms(settings: Settings, sms: SmsStandIn) -> Settings:
    return Settings(**{**settings.model_dump(), **sms.settings()})


def _deliver(factory: sessionmaker[Session], settings: Settings, *, at: timedelta = timedelta()) -> int:
    handlers, total = all_handlers(settings), 0
    while n := dispatch(factory, handlers, now=utcnow() + at):
        total += n
    return total


def _kinds(factory: sessionmaker[Session], customer_id: int, kind: str) -> list[Notice]:
    with factory() as session:
        return [n for n in notices.inbox(session=session, customer_id=customer_id) if n.kind == kind]


def test_a_captured_deposit_and_its_refund_each_send_one_sms_and_one_in_app_notice(
    session_factory: sessionmaker[Session], with_sms: Settings, sms: SmsStandIn
) -> None:
    with session_factory.begin() as session:
        me = buyer(session, "13800138021")
        notices.set_preferences(
            session=session,
            customer_id=me.customer_id or 0,
            locale="en",
            email="",
            email_on=False,
            sms_on=False,
        )
        order = paid_order(session, me.customer_id or 0)
        number, deposit = order.number, order.deposit_fen
    _deliver(session_factory, with_sms)
    _deliver(session_factory, with_sms, at=timedelta(hours=1))  # a later pass sends nothing more
    [paid] = _kinds(session_factory, me.customer_id or 0, "money")
    assert paid.body_en.startswith(f"We received {format_fen(deposit, 'en')} for order {number}")
    assert "已收到付款" in paid.body_zh
    [message] = sms.received  # money goes by SMS even with SMS turned off, in English as chosen
    assert message.template == sms.templates["money:en"]
    assert message.params == {"order": number, "amount": "+" + format_fen(deposit, "zh_CN")}

    with session_factory.begin() as session:
        found = session.scalars(select(Order).where(Order.number == number)).one()
        ordering.cancel(session=session, provider=PROVIDER, order=found, actor="buyer", accept_forfeit=False)
    sms.outage = 2  # the provider is down: the refund's SMS waits and is not lost
    assert _deliver(session_factory, with_sms, at=timedelta(hours=2)) >= 1  # the notice is written
    assert len(sms.received) == 1
    _deliver(session_factory, with_sms, at=timedelta(hours=3))
    _deliver(session_factory, with_sms, at=timedelta(hours=4))
    refunds = [n for n in _kinds(session_factory, me.customer_id or 0, "money") if "refunded" in n.body_en]
    assert len(refunds) == 1 and "已退款" in refunds[0].body_zh
    assert sms.refused == ["outage", "outage"]
    assert [m.params["amount"] for m in sms.received] == ["+" + format_fen(deposit, "zh_CN")] * 1 + [
        "-" + format_fen(deposit, "zh_CN")
    ]


def test_a_buyer_is_warned_once_a_day_before_the_order_locks(
    session_factory: sessionmaker[Session], with_sms: Settings, sms: SmsStandIn
) -> None:
    with session_factory.begin() as session:
        me = buyer(session, "13800138022")
        order = paid_order(session, me.customer_id or 0)
        assert order.refundable_until is not None
        ends, number = as_utc(order.refundable_until), order.number
    with session_factory.begin() as session:  # two days before: too early
        assert money.warn_before_lock(session=session, now=ends - timedelta(days=2)) == 0
    for _ in range(2):  # a day before (and the next round): one warning
        with session_factory.begin() as session:
            money.warn_before_lock(session=session, now=ends - timedelta(hours=20))
    _deliver(session_factory, with_sms)
    [warning] = _kinds(session_factory, me.customer_id or 0, "lock_warning")
    assert number in warning.body_zh and "锁定配置" in warning.body_zh and "locks on" in warning.body_en
    [message] = [m for m in sms.received if m.template == sms.templates["lock_warning"]]
    assert message.params["order"] == number and message.params["deadline"][:4].isdigit()


def test_the_hand_over_time_is_sent_by_sms_when_booked_and_again_when_moved(
    session_factory: sessionmaker[Session], with_sms: Settings, sms: SmsStandIn
) -> None:
    with session_factory.begin() as session:
        seed(session)
        me = buyer(session, "13800138023")
        order = paid_order(session, me.customer_id or 0)
        network.assign_delivery_centre(session=session, order=order, city="Beijing", actor=me.actor)
        advance_to(session, order, OrderStatus.AT_DELIVERY_CENTRE)
        tomorrow = (utcnow() + timedelta(days=1)).date()
        slots = appointments.available_slots(
            session=session, store_code="BJ-DC-01", kind=AppointmentKind.DELIVERY, day=tomorrow
        )
        first, later = slots[0][0], slots[2][0]
        booked = appointments.book(
            session=session, customer_id=me.customer_id or 0, kind=AppointmentKind.DELIVERY,
            order_number=order.number, store_code="BJ-DC-01", starts_at=first,
        )  # fmt: skip
        booked_id, number = booked.id, order.number
    _deliver(session_factory, with_sms)
    with session_factory.begin() as session:
        appointments.reschedule(session=session, principal=me, appointment_id=booked_id, starts_at=later)
    _deliver(session_factory, with_sms)
    slots_sent = [m for m in sms.received if m.template == sms.templates["delivery_slot"]]
    assert [m.params["order"] for m in slots_sent] == [number, number]
    assert [m.params["slot"][:16] for m in slots_sent] == [_local(first), _local(later)]
    assert len(_kinds(session_factory, me.customer_id or 0, "delivery_slot")) == 2
    with session_factory() as session:
        assert session.scalar(select(OutboxEvent).where(OutboxEvent.handled_at.is_(None))) is None


def _local(moment: datetime) -> str:
    from carloop.clock import SHANGHAI

    return as_utc(moment).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")

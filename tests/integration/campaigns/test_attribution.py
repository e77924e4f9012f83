"""Deep links and attribution on a real database: touches claimed at sign-in credit the order with its
first and last link; the first N paid orders win the perk, in payment order, once each."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.campaigns import attribution, service
from carloop.campaigns.models import CampaignOrder
from carloop.campaigns.schemas import CampaignCreate, LinkCreate
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import utcnow
from carloop.ordering import reservations

MODELS = ("su7", "yu7")


def _running(session: Session, limit: int = 1) -> int:
    now = utcnow()
    data = CampaignCreate(
        code="su7-night",
        name_en="SU7 night",
        name_zh="SU7 之夜",
        models=["su7"],
        reveal_at=now + timedelta(seconds=1),
        ends_at=now + timedelta(days=1),
        perk={"kind": "first_paid", "limit": limit, "title_en": "Free wheels", "title_zh": "赠送轮毂"},
    )
    campaign = service.create_campaign(
        session=session, principal=None, data=data, known_models=MODELS, now=now - timedelta(minutes=1)
    )
    campaign.reveal_at = now - timedelta(seconds=1)  # the reveal has come
    session.flush()
    return campaign.id


def _link(session: Session, campaign_id: int, source: str) -> attribution.CampaignLink:
    data = LinkCreate(channel="influencer", source=source, model="su7", trim="max", options=[])
    return attribution.create_link(session=session, principal=None, campaign_id=campaign_id, data=data)


def _reserve(session: Session, customer_id: int) -> int:
    made = reservations.reserve(
        session=session,
        provider=None,
        customer_id=customer_id,
        config=ConfigurationIn(model="su7", trim="max", options=[]),
    )
    return made.order_id


def _paid(session: Session, order_id: int) -> None:
    payload = {"order_id": order_id, "from_status": "pending_payment", "to_status": "reserved"}
    attribution.on_order_status_changed(session, payload)
    attribution.on_order_status_changed(session, payload)  # delivered twice: changes nothing


def test_an_order_is_credited_to_the_first_and_last_link_its_buyer_opened(session: Session) -> None:
    campaign_id = _running(session)
    alice, bob = _link(session, campaign_id, "Alice"), _link(session, campaign_id, "Bob")
    attribution.record_touch(session=session, link=alice, visitor="v" * 32, customer_id=None)
    attribution.record_touch(session=session, link=bob, visitor="v" * 32, customer_id=None)
    buyer = accounts.get_or_create_customer(session=session, phone="13800138000").id
    assert attribution.claim_touches(session=session, visitor="v" * 32, customer_id=buyer) == 2
    order_id = _reserve(session, buyer)
    row = session.scalar(select(CampaignOrder).where(CampaignOrder.order_id == order_id))
    assert row is not None
    assert (row.first_link_id, row.last_link_id) == (alice.id, bob.id)
    assert row.paid_at is None


def test_the_first_paid_orders_win_the_perk_once_each(session: Session) -> None:
    campaign_id = _running(session, limit=1)
    first = _reserve(session, accounts.get_or_create_customer(session=session, phone="13800138001").id)
    second = _reserve(session, accounts.get_or_create_customer(session=session, phone="13800138002").id)
    offer = attribution.perk_offer(session=session, model="su7", trim="max")
    assert offer is not None and offer.left == 1 and offer.title_zh == "赠送轮毂"
    _paid(session, second)  # paid first: it wins
    _paid(session, first)
    assert attribution.perk_of_order(session=session, order_id=second) is not None
    assert attribution.perk_of_order(session=session, order_id=first) is None
    assert service.get_campaign(session=session, campaign_id=campaign_id).perks_taken == 1
    after = attribution.perk_offer(session=session, model="su7", trim="max")
    assert after is not None and after.left == 0


def test_an_order_without_a_link_is_still_counted_but_credited_to_none(session: Session) -> None:
    _running(session)
    order_id = _reserve(session, accounts.get_or_create_customer(session=session, phone="13800138003").id)
    row = session.scalar(select(CampaignOrder).where(CampaignOrder.order_id == order_id))
    assert row is not None and row.first_link_id is None and row.last_link_id is None

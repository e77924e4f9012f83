"""Deep links and attribution: HQ's links per channel and source, the touches they record, the
orders they are credited with (first touch and last touch), and the early-bird perk each order wins.

A touch is keyed by the anonymous visitor cookie and claimed by the customer once they are signed in
(on the configurator or at checkout), so it survives signing in; an order is credited from the
customer's claimed touches when it is written (``record_orders``, called by ``reserve_many`` in the
same transaction), so it survives the launch lane's waiting room too. Paid, locked and refunded come
from the ordering domain's ``order.status_changed`` events.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carloop import errors
from carloop.audit import service as audit
from carloop.audit.service import Actor
from carloop.campaigns import rules
from carloop.campaigns.models import Campaign, CampaignLink, CampaignOrder, CampaignTouch
from carloop.campaigns.schemas import LinkCreate
from carloop.campaigns.service import get_campaign, terms_of
from carloop.clock import as_utc, utcnow

PAID = frozenset({"reserved", "waitlisted", "locked"})  # a deposit arrived (from pending_payment)
ENDED_WITH_REFUND = "refunded"


@dataclass(frozen=True)
class NewOrder:
    """An order just written, as ``reserve_many`` tells the campaigns about it."""

    order_id: int
    number: str
    customer_id: int
    model: str
    trim: str


def create_link(
    *, session: Session, principal: Actor | None, campaign_id: int, data: LinkCreate
) -> CampaignLink:
    """Issue a deep link for one channel and source (audited); its model must be the campaign's."""
    campaign = get_campaign(session=session, campaign_id=campaign_id)
    if not rules.covers(terms_of(campaign), data.model, data.trim):
        raise errors.PolicyViolation("A link can only open a model and trim of its campaign.")
    link = CampaignLink(
        campaign_id=campaign.id,
        code=secrets.token_urlsafe(9),
        channel=data.channel,
        source=data.source.strip(),
        model=data.model,
        trim=data.trim or None,
        options=list(dict.fromkeys(data.options)),
        created_by=principal.actor if principal is not None else audit.SYSTEM_ACTOR,
    )
    session.add(link)
    session.flush()
    audit.record(
        session=session,
        principal=principal,
        action="campaign.link.create",
        target_type="campaign",
        target_id=campaign.id,
        detail={"link": link.code, "channel": link.channel, "source": link.source, "model": link.model},
    )
    return link


def list_links(*, session: Session, campaign_id: int) -> list[CampaignLink]:
    """A campaign's links, oldest first."""
    return list(
        session.scalars(
            select(CampaignLink).where(CampaignLink.campaign_id == campaign_id).order_by(CampaignLink.id)
        )
    )


def get_link(*, session: Session, code: str) -> CampaignLink:
    """One link by its code."""
    link = session.scalar(select(CampaignLink).where(CampaignLink.code == code))
    if link is None:
        raise errors.NotFound("There is no such link.")
    return link


def record_touch(
    *,
    session: Session,
    link: CampaignLink,
    visitor: str,
    customer_id: int | None,
    now: datetime | None = None,
) -> CampaignTouch:
    """Someone opened a link: one touch, with the customer when they are signed in."""
    touch = CampaignTouch(
        campaign_id=link.campaign_id,
        link_id=link.id,
        visitor=visitor,
        customer_id=customer_id,
        at=now or utcnow(),
    )
    session.add(touch)
    session.flush()
    return touch


def claim_touches(*, session: Session, visitor: str, customer_id: int) -> int:
    """Give a signed-in customer the touches their browser made before signing in; how many."""
    if not visitor:
        return 0
    result = session.execute(
        update(CampaignTouch)
        .where(CampaignTouch.visitor == visitor, CampaignTouch.customer_id.is_(None))
        .values(customer_id=customer_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def record_orders(*, session: Session, orders: Sequence[NewOrder], now: datetime | None = None) -> int:
    """Credit new orders of a running campaign's models to their first and last touch; how many."""
    now = now or utcnow()
    if not orders:
        return 0
    running = [
        c for c in session.scalars(select(Campaign).where(Campaign.reveal_at <= now, Campaign.ends_at > now))
    ]
    if not running:
        return 0
    credited = []
    for order in orders:
        campaign = next((c for c in running if rules.covers(terms_of(c), order.model, order.trim)), None)
        if campaign is not None:
            credited.append((campaign, order))
    if not credited:
        return 0
    touches = _touches_of(session, {o.customer_id for _, o in credited}, {c.id for c, _ in credited})
    for campaign, order in credited:
        mine = touches.get((order.customer_id, campaign.id), [])
        session.add(
            CampaignOrder(
                campaign_id=campaign.id,
                order_id=order.order_id,
                order_number=order.number,
                customer_id=order.customer_id,
                model=order.model,
                trim=order.trim,
                first_link_id=mine[0] if mine else None,
                last_link_id=mine[-1] if mine else None,
                reserved_at=now,
            )
        )
    session.flush()
    return len(credited)


def _touches_of(
    session: Session, customers: Iterable[int], campaigns: Iterable[int]
) -> dict[tuple[int, int], list[int]]:
    rows = session.execute(
        select(CampaignTouch.customer_id, CampaignTouch.campaign_id, CampaignTouch.link_id)
        .where(CampaignTouch.customer_id.in_(list(customers)), CampaignTouch.campaign_id.in_(list(campaigns)))
        .order_by(CampaignTouch.at, CampaignTouch.id)
    )
    found: dict[tuple[int, int], list[int]] = {}
    for customer_id, campaign_id, link_id in rows:
        if customer_id is not None:
            found.setdefault((customer_id, campaign_id), []).append(link_id)
    return found


def on_order_status_changed(session: Session, payload: Mapping[str, Any]) -> None:
    """Outbox handler: a credited order was paid, locked or refunded (idempotent); perks are won here."""
    order_id = payload.get("order_id")
    if not isinstance(order_id, int):
        return
    row = session.scalar(select(CampaignOrder).where(CampaignOrder.order_id == order_id).with_for_update())
    if row is None:
        return
    to_status, from_status = str(payload.get("to_status")), str(payload.get("from_status"))
    now = utcnow()
    campaign = get_campaign(session=session, campaign_id=row.campaign_id)
    if to_status in PAID and from_status == "pending_payment" and row.paid_at is None:
        row.paid_at = now
        if rules.perk_left(campaign.perk, 0) is not None:
            row.perk_position = _take_perk(session, campaign)
    if to_status == "locked" and row.locked_at is None:
        row.locked_at = now
        perk = campaign.perk
        if row.perk_position is None and rules.wins_locked_within(perk, as_utc(campaign.reveal_at), now):
            row.perk_position = _take_perk(session, campaign)
    if to_status == ENDED_WITH_REFUND and row.refunded_at is None:
        row.refunded_at = now
    session.flush()


def _take_perk(session: Session, campaign: Campaign) -> int | None:
    """The next perk position, taken with one conditional UPDATE (None when none is left)."""
    query = update(Campaign).where(Campaign.id == campaign.id).values(perks_taken=Campaign.perks_taken + 1)
    perk = campaign.perk or {}
    if perk.get("kind") == rules.PerkKind.FIRST_PAID:
        query = query.where(Campaign.perks_taken < int(perk["limit"]))
    if not getattr(session.execute(query), "rowcount", 0):
        return None
    return session.scalar(select(Campaign.perks_taken).where(Campaign.id == campaign.id))


@dataclass(frozen=True)
class PerkOffer:
    """The early-bird perk as a buyer sees it before committing."""

    title_en: str
    title_zh: str
    kind: str
    limit: int | None
    hours: int | None
    left: int | None


def perk_offer(
    *, session: Session, model: str, trim: str | None, now: datetime | None = None
) -> PerkOffer | None:
    """The perk a buyer of this model could still win now, if any."""
    now = now or utcnow()
    campaign = session.scalar(
        select(Campaign)
        .where(Campaign.ends_at > now, Campaign.perk.is_not(None))
        .order_by(Campaign.reveal_at)
    )
    found = [c for c in [campaign] if c is not None and rules.covers(terms_of(c), model, trim)]
    if not found or not found[0].perk:
        return None
    perk, taken = found[0].perk, found[0].perks_taken
    return PerkOffer(
        title_en=str(perk["title_en"]),
        title_zh=str(perk["title_zh"]),
        kind=str(perk["kind"]),
        limit=perk.get("limit"),
        hours=perk.get("hours"),
        left=rules.perk_left(perk, taken),
    )


def perk_of_order(*, session: Session, order_id: int) -> tuple[dict[str, Any], int] | None:
    """The perk an order won and its position among the winners, if it won one."""
    row = session.scalar(select(CampaignOrder).where(CampaignOrder.order_id == order_id))
    if row is None or row.perk_position is None:
        return None
    campaign = get_campaign(session=session, campaign_id=row.campaign_id)
    return (dict(campaign.perk or {}), row.perk_position) if campaign.perk else None

"""The live view's figures, read from this domain's rows only: paid orders per second by model and
trim, totals (reservations, paid, locked, refunds), the attribution funnel by link (last touch and
first touch), the first hour per minute, and the same as CSV after the campaign."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.campaigns import rules
from carloop.campaigns.models import Campaign, CampaignLink, CampaignOrder, CampaignTouch
from carloop.clock import as_utc, utcnow

WINDOW_SECONDS = 60
FIRST_HOUR_MINUTES = 60
NO_LINK = "-"  # orders and visits that came through no link


def _link_key(link: CampaignLink | None) -> str:
    return f"{link.channel}:{link.source}" if link is not None else NO_LINK


def figures(*, session: Session, campaign: Campaign, now: datetime | None = None) -> dict[str, Any]:
    """Everything the live page shows at ``now``, as JSON-ready values."""
    now = now or utcnow()
    reveal = as_utc(campaign.reveal_at)
    since = now - timedelta(seconds=WINDOW_SECONDS)
    recent = session.execute(
        select(CampaignOrder.model, CampaignOrder.trim, CampaignOrder.paid_at).where(
            CampaignOrder.campaign_id == campaign.id, CampaignOrder.paid_at > since
        )
    ).all()
    by_trim: dict[str, list[datetime]] = {}
    for model, trim, paid_at in recent:
        if paid_at is None:
            continue
        by_trim.setdefault(f"{model} {trim}", []).append(as_utc(paid_at))
    per_second = {
        key: rules.per_second(moments, now=now, window=WINDOW_SECONDS)
        for key, moments in sorted(by_trim.items())
    }
    orders = session.execute(
        select(
            CampaignOrder.first_link_id,
            CampaignOrder.last_link_id,
            CampaignOrder.paid_at,
            CampaignOrder.locked_at,
            CampaignOrder.refunded_at,
            CampaignOrder.model,
            CampaignOrder.trim,
        ).where(CampaignOrder.campaign_id == campaign.id)
    ).all()
    links = {
        link.id: link
        for link in session.scalars(select(CampaignLink).where(CampaignLink.campaign_id == campaign.id))
    }
    visits = Counter[str]()
    for link_id, count in session.execute(
        select(CampaignTouch.link_id, func.count())
        .where(CampaignTouch.campaign_id == campaign.id)
        .group_by(CampaignTouch.link_id)
    ):
        visits[_link_key(links.get(link_id))] += int(count)
    last_touch = rules.funnel(
        visits,
        [
            (_link_key(links.get(o.last_link_id)), o.paid_at is not None, o.locked_at is not None)
            for o in orders
        ],
    )
    first_touch = rules.funnel(
        visits,
        [
            (_link_key(links.get(o.first_link_id)), o.paid_at is not None, o.locked_at is not None)
            for o in orders
        ],
    )
    paid_moments = [as_utc(o.paid_at) for o in orders if o.paid_at is not None]
    by_model = Counter(f"{o.model} {o.trim}" for o in orders if o.paid_at is not None)
    return {
        "campaign": campaign.code,
        "at": now.isoformat(),
        "revealed": rules.is_revealed(reveal, now),
        "seconds_to_reveal": rules.seconds_until(reveal, now),
        "reservations": len(orders),
        "paid": len(paid_moments),
        "locked": sum(1 for o in orders if o.locked_at is not None),
        "refunds": sum(1 for o in orders if o.refunded_at is not None),
        "awaiting_payment": sum(1 for o in orders if o.paid_at is None and o.refunded_at is None),
        "paid_last_second": sum(series[-1] for series in per_second.values()),
        "per_second": per_second,
        "paid_by_trim": dict(sorted(by_model.items())),
        "funnel": [row.__dict__ for row in last_touch],
        "funnel_first_touch": [row.__dict__ for row in first_touch],
        "first_hour": rules.per_minute(paid_moments, start=reveal, minutes=FIRST_HOUR_MINUTES),
    }


def export_csv(*, session: Session, campaign: Campaign) -> str:
    """The campaign's figures as CSV: one block of totals, the funnel by link, and the first hour."""
    data = figures(session=session, campaign=campaign)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "visits", "reservations", "paid", "locked", "refunds"])
    writer.writerow(
        ["total", campaign.code, "", data["reservations"], data["paid"], data["locked"], data["refunds"]]
    )
    for touch, rows in (("last_touch", data["funnel"]), ("first_touch", data["funnel_first_touch"])):
        for row in rows:
            writer.writerow(
                [touch, row["key"], row["visits"], row["reservations"], row["paid"], row["locked"], ""]
            )
    for key, paid in data["paid_by_trim"].items():
        writer.writerow(["paid_by_trim", key, "", "", paid, "", ""])
    for minute, paid in enumerate(data["first_hour"]):
        writer.writerow(["first_hour_minute", minute, "", "", paid, "", ""])
    return out.getvalue()

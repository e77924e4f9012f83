"""Analytics use cases: capture funnel events, react to order events, import market sales."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carloop.analytics import rules
from carloop.analytics.models import FunnelEvent, MarketSale
from carloop.analytics.rules import Channel, Gender, Stage
from carloop.community import service as community
from carloop.errors import NotFound, PolicyViolation
from carloop.loyalty import economy
from carloop.ordering import service as ordering
from carloop.production import summary

OWN_BRAND = "Xiaomi"  # the brand whose rank the market-structure view follows


@dataclass(frozen=True, slots=True)
class City:
    """A city the analytics know: province and tier (both languages)."""

    city: str
    city_zh: str
    province: str
    province_zh: str
    tier: str
    weight: float  # relative share of buyers in the simulated launch


@cache
def cities() -> dict[str, City]:
    """Known cities by English name (from the shipped ``cities.csv``)."""
    text = (files("carloop.analytics") / "data" / "cities.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return {
        r["city"]: City(
            r["city"], r["city_zh"], r["province"], r["province_zh"], r["tier"], float(r["weight"])
        )
        for r in rows
    }


def capture(
    *,
    session: Session,
    stage: Stage,
    channel: Channel,
    anon_id: str,
    model: str | None = None,
    trim: str | None = None,
    order_id: int | None = None,
    total_fen: int | None = None,
    city: str | None = None,
    age: int | None = None,
    gender: Gender | None = None,
    at: datetime | None = None,
) -> FunnelEvent | None:
    """Record one funnel event; an order stage already recorded for the order is not recorded again."""
    if order_id is not None:
        found = session.scalars(
            select(FunnelEvent).where(FunnelEvent.order_id == order_id, FunnelEvent.stage == stage)
        ).first()
        if found is not None:
            return None
    known = cities().get(city) if city else None
    event = FunnelEvent(
        stage=stage,
        channel=channel,
        anon_id=anon_id[:32],
        order_id=order_id,
        model=model,
        trim=trim,
        total_fen=total_fen,
        city=known.city if known else None,
        province=known.province if known else None,
        city_tier=known.tier if known else None,
        age_band=rules.age_band(age),
        gender=str(gender or Gender.UNKNOWN),
    )
    if at is not None:
        event.at = at
    session.add(event)
    session.flush()
    return event


def track_page(
    *,
    session: Session,
    secret: bytes,
    visitor: str,
    stage: Stage,
    model: str | None = None,
    trim: str | None = None,
    order_id: int | None = None,
    total_fen: int | None = None,
    channel: Channel = Channel.WEB,
    city: str | None = None,
) -> FunnelEvent | None:
    """The page hook: record what a storefront visitor (cookie or session token, hashed here) did."""
    return capture(
        session=session,
        stage=stage,
        channel=channel,
        anon_id=rules.anonymise(secret, visitor),
        model=model,
        trim=trim,
        order_id=order_id,
        total_fen=total_fen,
        city=city,
    )


# Order status -> the funnel stage it completes.
STATUS_STAGES: dict[str, Stage] = {
    "reserved": Stage.PAID,
    "locked": Stage.LOCKED,
    "refunded": Stage.REFUNDED,
    "cancelled": Stage.CANCELLED,
    "delivered": Stage.DELIVERED,
}


def on_order_status_changed(session: Session, payload: Mapping[str, Any]) -> None:
    """Outbox handler: record paid / locked / refunded / cancelled / delivered (idempotent)."""
    stage = STATUS_STAGES.get(str(payload.get("to_status")))
    order_id = payload.get("order_id")
    if stage is None or not isinstance(order_id, int):
        return
    try:
        order = ordering.load(session=session, number=str(payload.get("number")))
    except NotFound:
        return
    started = session.scalars(
        select(FunnelEvent).where(
            FunnelEvent.order_id == order_id, FunnelEvent.stage == Stage.RESERVATION_STARTED
        )
    ).first()
    if started is None:  # the storefront hook did not see it: the order itself says when it started
        started = capture(
            session=session,
            stage=Stage.RESERVATION_STARTED,
            channel=Channel.UNKNOWN,
            anon_id=f"order:{order_id}",
            model=order.model,
            trim=order.trim,
            order_id=order_id,
            total_fen=order.total_fen,
            at=order.created_at,
        )
    if stage is Stage.LOCKED and payload.get("from_status") == "pending_payment":
        _follow(session, started, Stage.PAID, order_id)  # paid and locked at once (numbered editions)
    _follow(session, started, stage, order_id)


def _follow(session: Session, started: FunnelEvent | None, stage: Stage, order_id: int) -> None:
    if started is None:
        return
    event = capture(
        session=session,
        stage=stage,
        channel=started.channel,
        anon_id=started.anon_id,
        model=started.model,
        trim=started.trim,
        order_id=order_id,
        total_fen=started.total_fen,
        city=started.city,
    )
    if event is not None:
        event.city_tier, event.province = started.city_tier, started.province
        event.age_band, event.gender = started.age_band, started.gender


@dataclass(frozen=True, slots=True)
class MarketRow:
    """One line of a market-sales CSV."""

    month: date
    brand: str
    units: int


def parse_market_csv(text: str) -> list[MarketRow]:
    """Rows of a ``month,brand,units`` CSV ('#' lines are comments); ``PolicyViolation`` names a bad line."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or {"month", "brand", "units"} - set(reader.fieldnames):
        raise PolicyViolation("The CSV needs the columns month, brand, units.", field="file")
    rows: list[MarketRow] = []
    seen: set[tuple[date, str]] = set()
    for number, raw in enumerate(reader, start=2):
        try:
            year, month = (int(part) for part in (raw["month"] or "").strip().split("-"))
            day = date(year, month, 1)
            units = int((raw["units"] or "").strip())
        except ValueError as err:
            raise PolicyViolation(f"Line {number}: month is YYYY-MM and units a whole number.") from err
        brand = (raw["brand"] or "").strip()
        if not brand or len(brand) > 60 or units < 0:
            raise PolicyViolation(f"Line {number}: a brand (1-60 characters) and units ≥ 0 are needed.")
        if (day, brand) in seen:
            raise PolicyViolation(f"Line {number}: {brand} appears twice for {raw['month']}.")
        seen.add((day, brand))
        rows.append(MarketRow(day, brand, units))
    return rows


def import_market_sales(*, session: Session, rows: Iterable[MarketRow], source: str) -> int:
    """Replace the months present in ``rows`` with these figures; returns how many rows were stored."""
    items = list(rows)
    months = {row.month for row in items}
    if months:
        session.execute(delete(MarketSale).where(MarketSale.month.in_(months)))
    session.add_all(MarketSale(month=r.month, brand=r.brand, units=r.units, source=source) for r in items)
    session.flush()
    return len(items)


def sample_market_csv() -> str:
    """The shipped illustrative sample (not real data)."""
    return (files("carloop.analytics") / "data" / "nev_sales_illustrative.csv").read_text(encoding="utf-8")


def market_structure(
    *, session: Session, brand: str = OWN_BRAND, since: date | None = None, until: date | None = None
) -> list[rules.MarketMonth]:
    """Share, HHI, CR4, CR8 and the brand's rank for every imported month, oldest first."""
    query = select(MarketSale.month, MarketSale.brand, MarketSale.units).order_by(MarketSale.month)
    if since is not None:
        query = query.where(MarketSale.month >= since)
    if until is not None:
        query = query.where(MarketSale.month <= until)
    by_month: dict[date, dict[str, int]] = {}
    for month, name, units in session.execute(query):
        by_month.setdefault(month, {})[name] = units
    return [rules.market_month(m.strftime("%Y-%m"), units, brand=brand) for m, units in by_month.items()]


def market_sources(*, session: Session) -> list[str]:
    """The distinct sources of the imported market figures (to label an illustrative sample)."""
    return sorted(s for s in session.scalars(select(MarketSale.source).distinct()) if s)


THEMES_WINDOW = 5000  # suggestions read for the themes panel (the newest ones)


def suggestion_themes(*, session: Session) -> list[tuple[str, int, int]]:
    """Owners' suggestions by category: (category, suggestions, votes), most voted first (newest 5,000)."""
    items = community.board(session=session, limit=THEMES_WINDOW)
    votes = community.vote_counts(session=session, suggestion_ids=[s.id for s in items])
    themes: dict[str, list[int]] = {}
    for item in items:
        counts = themes.setdefault(str(item.category), [0, 0])
        counts[0] += 1
        counts[1] += votes.get(item.id, 0)
    return sorted(((c, n, v) for c, (n, v) in themes.items()), key=lambda t: (-t[2], -t[1], t[0]))


DELIVERY_COLUMNS = [
    "week",
    "delivered",
    "on_first_promise",
    "late",
    "kept_share",
    "median_lead_days",
    "p90_lead_days",
    "stated_share",
]
POINTS_COLUMNS = ["day", "issued", "redeemed", "expired", "outstanding"]


def delivery_accuracy(
    *, session: Session, model: str | None, date_from: date | None, date_to: date | None
) -> list[list[Any]]:
    """Deliveries per China week: first promise kept or broken, lead days (``DELIVERY_COLUMNS``)."""
    rows = []
    for week in summary.delivery_accuracy(session=session, model=model, date_from=date_from, date_to=date_to):
        share = round(week.kept / week.promised, 4) if week.promised else None
        rows.append(
            [
                week.week,
                week.delivered,
                week.kept,
                week.late,
                share,
                week.median_lead_days,
                week.p90_lead_days,
                week.stated_share,
            ]
        )
    return rows


def points_economy(*, session: Session, date_from: date | None, date_to: date | None) -> list[list[Any]]:
    """Points issued, redeemed, expired and outstanding per China day (``POINTS_COLUMNS``)."""
    return [
        [d.day, d.issued, d.redeemed, d.expired, d.outstanding]
        for d in economy.daily(session=session, date_from=date_from, date_to=date_to)
    ]

"""The analytics dashboard page for HQ: charts (progressively enhanced), tables, exports, market import."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.analytics import export, rules, service
from carloop.analytics.live import warehouse_for
from carloop.analytics.rules import Channel
from carloop.analytics.warehouse import TABLES, Filters, Table, dashboard
from carloop.audit import service as audit
from carloop.catalog import service as catalog
from carloop.clock import FIRST_DAY, LAST_DAY
from carloop.errors import NotFound, PolicyViolation
from carloop.web.deps import DbSession, ReadSession, check_csrf, require_roles

router = APIRouter()
HqStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]
Text = Annotated[str, Query(max_length=40)]
MAX_UPLOAD = 2_000_000
MARKET_TABLES = ("market", "market_shares", "suggestion_themes")
# The market sample's brands as Chinese buyers write them (the chart legend on zh-CN pages).
BRANDS_ZH = {
    "BYD": "比亚迪",
    "Geely": "吉利",
    "Tesla China": "特斯拉中国",
    "Wuling": "五菱",
    "Changan": "长安",
    "AITO": "问界",
    "Li Auto": "理想汽车",
    "Leapmotor": "零跑",
    "Xiaomi": "小米",
}
OLTP_TABLES = ("delivery_eta", "points_economy")  # from production's and loyalty's own tables
TOP_BRANDS = 8


def _day(raw: str) -> date | None:
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return day if day is None or FIRST_DAY <= day <= LAST_DAY else None  # 0001-01-01 would overflow in UTC


def _filters(model: str, channel: str, date_from: str, date_to: str) -> Filters:
    chosen = Channel(channel) if channel in set(Channel) else None
    return Filters(model or None, chosen, _day(date_from), _day(date_to))


def _market(session: Session) -> tuple[list[rules.MarketMonth], Table]:
    months = service.market_structure(session=session)
    totals: dict[str, float] = {}
    for month in months:
        for brand, share in month.shares.items():
            totals[brand] = totals.get(brand, 0.0) + share
    brands = sorted(totals, key=lambda b: -totals[b])[:TOP_BRANDS]
    if service.OWN_BRAND in totals and service.OWN_BRAND not in brands:
        brands.append(service.OWN_BRAND)
    shares = Table(
        ["month", *brands], [[m.month, *(round(m.shares.get(b, 0.0), 4) for b in brands)] for m in months]
    )
    return months, shares


def _oltp(session: Session, name: str, filters: Filters) -> Table:
    """A table read from another domain's aggregates: delivery accuracy (model, dates) or points (dates)."""
    if name == "delivery_eta":
        rows = service.delivery_accuracy(
            session=session, model=filters.model, date_from=filters.date_from, date_to=filters.date_to
        )
        return Table(list(service.DELIVERY_COLUMNS), rows)
    rows = service.points_economy(session=session, date_from=filters.date_from, date_to=filters.date_to)
    return Table(list(service.POINTS_COLUMNS), rows)


def _themes(session: Session) -> Table:
    return Table(
        ["category", "suggestions", "votes"], [list(t) for t in service.suggestion_themes(session=session)]
    )


@router.get("/console/analytics")
def dashboard_page(
    request: Request,
    session: ReadSession,
    principal: HqStaff,
    model: Text = "",
    channel: Text = "",
    date_from: Text = "",
    date_to: Text = "",
) -> Response:
    """Launch curve, funnel, buyers, channels, regions, configurations, lead times, market structure."""
    filters = _filters(model, channel, date_from, date_to)
    tables = dashboard(warehouse_for(request.app.state, session.connection()), filters)
    months, shares = _market(session)
    tables["market"] = export.market_table(months)
    tables["market_shares"] = shares
    tables["suggestion_themes"] = _themes(session)
    for name in OLTP_TABLES:
        tables[name] = _oltp(session, name, filters)
    counts = {row[0]: row[1] for row in tables["funnel"].rows}
    charts = {
        name: {"columns": t.columns, "rows": [[export._plain(v) for v in r] for r in t.rows]}
        for name, t in tables.items()
    }
    sources = service.market_sources(session=session)
    return request.app.state.renderer.render(
        request,
        "analytics/dashboard.html",
        {
            "filters": filters,
            "raw": {"model": model, "channel": channel, "date_from": date_from, "date_to": date_to},
            "models": list(catalog.current_catalog().models.values()),
            "channels": list(Channel),
            "tables": tables,
            "totals": dict(tables["totals"].rows),
            "steps": rules.funnel_steps(counts),
            "latest": months[-1] if months else None,
            "illustrative": any("illustrative" in s.lower() for s in sources),
            "sources": sources,
            "own_brand": service.OWN_BRAND,
            "charts_json": json.dumps(charts, ensure_ascii=False).replace("</", "<\\/"),
            "query": request.url.query,
            "concentration": rules.concentration_label,
            "places": _place_names(),
            "brands_zh": BRANDS_ZH,
        },
    )


@router.get("/console/analytics/export/{name}.{fmt}")
def export_table(
    request: Request,
    session: ReadSession,
    principal: HqStaff,
    name: str,
    fmt: str,
    model: Text = "",
    channel: Text = "",
    date_from: Text = "",
    date_to: Text = "",
) -> Response:
    """One table behind a chart as CSV or Parquet, with the page's filters."""
    if fmt not in export.FORMATS or name not in (*TABLES, *MARKET_TABLES, *OLTP_TABLES):
        raise NotFound("There is no such table or format.", table=name[:40], format=fmt[:10])
    if name == "suggestion_themes":
        table = _themes(session)
    elif name in OLTP_TABLES:
        table = _oltp(session, name, _filters(model, channel, date_from, date_to))
    elif name in MARKET_TABLES:
        months, shares = _market(session)
        table = export.market_table(months) if name == "market" else shares
    else:
        filters = _filters(model, channel, date_from, date_to)
        table = dashboard(warehouse_for(request.app.state, session.connection()), filters, only=name)[name]
    return Response(
        export.encode(table, fmt),
        media_type=export.FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="carloop-{name}.{fmt}"'},
    )


@router.post("/console/analytics/market")
async def import_market(
    request: Request,
    session: DbSession,
    principal: HqStaff,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    sample: Annotated[str, Form(max_length=10)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Import monthly NEV sales by brand from an uploaded CSV, or load the illustrative sample."""
    check_csrf(request, csrf_token)
    if sample:
        text, source = service.sample_market_csv(), "illustrative sample (not real data)"
    elif file is not None and file.filename:
        raw = await file.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            raise PolicyViolation("The file is larger than 2 MB.", field="file")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise PolicyViolation("The file is not UTF-8 text.", field="file") from err
        source = f"upload: {file.filename[:100]}"
    else:
        raise PolicyViolation("Choose a CSV file or the sample.", field="file")
    rows = service.parse_market_csv(text)
    count = service.import_market_sales(session=session, rows=rows, source=source)
    audit.record(
        session=session,
        principal=principal,
        action="market.imported",
        target_type="market",
        target_id=source[:64],
        detail={"rows": count},
        ip=request.client.host if request.client else None,
    )
    return RedirectResponse("/console/analytics#market", status_code=303)


def _place_names() -> dict[str, str]:
    """Chinese names of the provinces and cities the figures name in English (from ``cities.csv``)."""
    names: dict[str, str] = {}
    for city in service.cities().values():
        names[city.city] = city.city_zh
        names[city.province] = city.province_zh
    return names

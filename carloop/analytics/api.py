"""Analytics JSON API: the dashboard's data for HQ (the page draws the same)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from carloop.accounts.schemas import Principal, Role
from carloop.analytics import service
from carloop.analytics.live import warehouse_for
from carloop.analytics.schemas import DashboardQuery, DashboardRead, MarketMonthRead, TableRead
from carloop.analytics.warehouse import Table, dashboard
from carloop.web.deps import ReadSession, require_roles

router = APIRouter(prefix="/analytics", tags=["analytics"])
HqStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]


@router.get("/dashboard", response_model=DashboardRead)
def read_dashboard(
    request: Request, session: ReadSession, principal: HqStaff, query: Annotated[DashboardQuery, Query()]
) -> DashboardRead:
    """Every table behind the dashboard's charts, filtered by model, channel and dates."""
    filters = query.filters()
    tables = dashboard(warehouse_for(request.app.state, session.connection()), filters)
    tables["delivery_eta"] = Table(
        list(service.DELIVERY_COLUMNS),
        service.delivery_accuracy(
            session=session, model=filters.model, date_from=filters.date_from, date_to=filters.date_to
        ),
    )
    tables["points_economy"] = Table(
        list(service.POINTS_COLUMNS),
        service.points_economy(session=session, date_from=filters.date_from, date_to=filters.date_to),
    )
    months = service.market_structure(session=session)
    return DashboardRead(
        tables={name: TableRead(columns=t.columns, rows=t.rows) for name, t in tables.items()},
        market=[
            MarketMonthRead(
                month=m.month,
                total_units=m.total_units,
                hhi=m.hhi,
                cr4=m.cr4,
                cr8=m.cr8,
                brand_share=m.brand_share,
                brand_rank=m.brand_rank,
                shares=m.shares,
            )
            for m in months
        ],
        market_sources=service.market_sources(session=session),
    )

"""The campaign's live console page, its server-sent event stream (one event a second) and the
CSV export of the same figures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from carloop.accounts.schemas import Principal, Role
from carloop.campaigns import live, service
from carloop.console.render import render
from carloop.web.deps import DbSession, require_roles

router = APIRouter(prefix="/console/campaigns")
HqStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]
TICK_SECONDS = 1.0
MAX_TICKS = 4 * 3600  # a browser reconnects on its own after four hours


def waiting_room(request: Request) -> int | None:
    """Requests waiting in this server's launch lane for the writer, when the lane is in front."""
    lanes = getattr(request.app.state, "lanes", None)
    writer = getattr(lanes, "writer", None)
    return int(writer.pending) if writer is not None else None


def _figures(request: Request, campaign_id: int) -> dict[str, Any]:
    with request.app.state.sessions() as session:
        campaign = service.get_campaign(session=session, campaign_id=campaign_id)
        data = live.figures(session=session, campaign=campaign)
    data["waiting_room"] = waiting_room(request)
    return data


@router.get("/{campaign_id}/live")
def live_page(request: Request, session: DbSession, principal: HqStaff, campaign_id: int) -> Response:
    """The live view: figures refreshed every second by server-sent events, the first hour's chart."""
    campaign = service.get_campaign(session=session, campaign_id=campaign_id)
    data = live.figures(session=session, campaign=campaign)
    data["waiting_room"] = waiting_room(request)
    return render(request, principal, "campaigns/console_live.html", {"campaign": campaign, "figures": data})


@router.get("/{campaign_id}/live/stream")
async def live_stream(
    request: Request,
    session: DbSession,
    principal: HqStaff,
    campaign_id: int,
    ticks: Annotated[int, Query(ge=1, le=MAX_TICKS)] = MAX_TICKS,
) -> Response:
    """``text/event-stream``: one ``figures`` event a second (``ticks`` of them, then the stream ends)."""
    # a missing campaign is a 404 before streaming; the request's own transaction ends with this
    # function, so each tick reads in a short transaction of its own
    service.get_campaign(session=session, campaign_id=campaign_id)

    async def events() -> AsyncIterator[bytes]:
        for tick in range(ticks):
            if tick:
                await asyncio.sleep(TICK_SECONDS)
            if await request.is_disconnected():
                return
            data = await run_in_threadpool(_figures, request, campaign_id)
            yield b"event: figures\ndata: " + orjson.dumps(data) + b"\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get("/{campaign_id}/export.csv")
def export(session: DbSession, principal: HqStaff, campaign_id: int) -> Response:
    """The campaign's figures as CSV (totals, funnel by link, paid by trim, the first hour)."""
    campaign = service.get_campaign(session=session, campaign_id=campaign_id)
    body = live.export_csv(session=session, campaign=campaign)
    disposition = f'attachment; filename="campaign-{campaign.code}.csv"'
    return Response(body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})

"""The owner's devices, live: ``GET /ecosystem/live`` streams what /ecosystem shows of each device as
server-sent events, so the page updates in place (a car driving home, a light switched on) instead of
reloading itself and wiping half-typed forms.

The stream reads the stored states once a second in a short transaction of its own and sends an event
only when something the page shows changed. Each connection ends after a minute (the browser's
EventSource reconnects by itself, after ``retry``), so no request lives for ever and a server stops
promptly."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from carloop.ecosystem import live, service
from carloop.web.deps import CurrentCustomer

router = APIRouter()
POLL_SECONDS = 1.0
STREAM_SECONDS = 60.0
RETRY_MS = 2000


def snapshot(*, session: Session, customer_id: int) -> dict[str, dict[str, Any]]:
    """What the page shows of each of the owner's devices, by device id."""
    homes = [
        live.Place(h.name, h.latitude, h.longitude, h.radius_m)
        for h in service.list_homes(session=session, customer_id=customer_id)
    ]
    return {
        str(d.id): live.view(d.state, homes)
        for d in service.list_devices(session=session, customer_id=customer_id)
    }


@router.get("/ecosystem/live")
async def live_states(request: Request, me: CurrentCustomer) -> StreamingResponse:
    """Server-sent events ``devices`` (JSON: device id -> shown fields) whenever one of them changes."""
    factory: sessionmaker[Session] = request.app.state.sessions
    customer_id = int(me.customer_id or 0)

    def read() -> dict[str, dict[str, Any]]:
        with factory() as session:
            return snapshot(session=session, customer_id=customer_id)

    async def events() -> AsyncIterator[str]:
        yield f"retry: {RETRY_MS}\n\n"
        last: dict[str, dict[str, Any]] | None = None
        deadline = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < deadline and not await request.is_disconnected():
            now = await anyio.to_thread.run_sync(read)
            if now != last:
                yield f"event: devices\ndata: {json.dumps(now, ensure_ascii=False)}\n\n"
                last = now
            await anyio.sleep(POLL_SECONDS)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

"""The storefront's funnel hook: which anonymous visitor reached which step, through which channel."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request, Response
from sqlalchemy.orm import Session

from carloop.analytics import service as analytics
from carloop.analytics.rules import Channel, Stage

VISITOR_COOKIE = "carloop_visitor"
CHANNEL_HEADER = "x-carloop-channel"  # the app and mini-programs say who they are


def ensure_visitor(request: Request) -> bool:
    """Give the request an anonymous visitor id (from its cookie, or new); True when it is new."""
    known = request.cookies.get(VISITOR_COOKIE, "")
    if 16 <= len(known) <= 64 and known.isalnum():
        request.state.visitor = known
        return False
    request.state.visitor = uuid.uuid4().hex
    return True


def remember_visitor(request: Request, response: Response) -> None:
    """Set the visitor cookie on the response (a random id; no personal data)."""
    response.set_cookie(
        VISITOR_COOKIE, request.state.visitor, max_age=365 * 24 * 3600, httponly=True, samesite="lax"
    )


def channel_of(request: Request) -> Channel:
    """The channel a request came through (``X-Carloop-Channel`` or ``?channel=``; web by default)."""
    raw = (request.headers.get(CHANNEL_HEADER) or request.query_params.get("channel") or "web").lower()
    try:
        return Channel(raw)
    except ValueError:
        return Channel.WEB


def track(request: Request, session: Session, stage: Stage, **facts: Any) -> None:
    """Record one funnel step for this visitor, in the request's transaction."""
    settings = request.app.state.settings
    analytics.track_page(
        session=session,
        secret=settings.secret_key.get_secret_value().encode(),
        visitor=getattr(request.state, "visitor", "") or "anonymous",
        stage=stage,
        channel=channel_of(request),
        **facts,
    )

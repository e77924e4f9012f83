"""The public end of a deep link: ``/go/<code>`` records the touch and opens the configurator with the
link's preset configuration."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from carloop.campaigns import attribution
from carloop.web import tracking
from carloop.web.deps import DbSession, OptionalPrincipal

router = APIRouter()


@router.get("/go/{code}")
def follow_link(request: Request, code: str, session: DbSession, principal: OptionalPrincipal) -> Response:
    """Record that this visitor opened the link, then show its configuration."""
    link = attribution.get_link(session=session, code=code[:24])
    customer_id = principal.customer_id if principal is not None else None
    visitor = str(getattr(request.state, "visitor", "") or "")
    attribution.record_touch(session=session, link=link, visitor=visitor, customer_id=customer_id)
    query: list[tuple[str, str]] = []
    if link.trim:
        query.append(("trim", link.trim))
    query.extend(("option", option) for option in link.options)
    target = f"/configure/{link.model}" + (f"?{urlencode(query)}" if query else "")
    response = RedirectResponse(target, status_code=303)
    tracking.remember_visitor(request, response)  # the touch is keyed by this cookie
    return response

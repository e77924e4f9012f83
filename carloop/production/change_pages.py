"""The buyer's post-lock change pages, the same three steps as an early lock.

1. ``GET /orders/{number}/change`` opens the configurator on the order's configuration in change mode
   (or says why a change is no longer possible);
2. the configurator's button goes to ``GET /orders/{number}/change/review?trim=..&option=..``: the
   new price and difference, queue position and delivery window next to the current ones;
3. ``POST /orders/{number}/change`` with the acknowledgement and the reviewed price, configuration
   and window repeated applies it (``changes.apply_change``; a double submit is the same change).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import FIRST_DAY, LAST_DAY
from carloop.errors import DomainError, InvalidConfiguration
from carloop.ordering import rules as order_rules
from carloop.ordering import service as ordering
from carloop.ordering.schemas import OrderRead
from carloop.production import changes, eta
from carloop.web.deps import CurrentCustomer, DbSession, FormCustomer

router = APIRouter()

Options = Annotated[list[str] | None, Query(max_length=60)]


def _render(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(
        request, "production/change.html", context, status_code=status_code
    )


@router.get("/orders/{number}/change")
def start_change(number: str, request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """Step one: the configurator on the order's configuration, or why it can no longer change."""
    order = ordering.get_for(session=session, principal=me, number=number)
    if not changes.may_change(order):
        return _closed(request, order)
    query = [("change", order.number), ("trim", order.trim)] + [("option", o) for o in order.options]
    return RedirectResponse(f"/configure/{order.model}?{urlencode(query)}", status_code=303)


def _closed(request: Request, order: Any, status_code: int = 200) -> Response:
    return _render(
        request,
        {"order": OrderRead.of(order), "closed": True, "until": changes.change_deadline(order)},
        status_code,
    )


@router.get("/orders/{number}/change/review")
def review_change(
    number: str,
    request: Request,
    session: DbSession,
    me: CurrentCustomer,
    trim: Annotated[str, Query(min_length=1, max_length=40)],
    option: Options = None,
) -> Response:
    """Step two: the new price, queue position and delivery window next to the current ones."""
    order = ordering.get_for(session=session, principal=me, number=number)
    if not changes.may_change(order):
        return _closed(request, order)
    config = ConfigurationIn(model=order.model, trim=trim, options=option or [])
    return _review(request, session, order, config)


def _review(
    request: Request, session: Any, order: Any, config: ConfigurationIn, error: str | None = None
) -> Response:
    context: dict[str, Any] = {
        "order": OrderRead.of(order),
        "closed": False,
        "until": changes.change_deadline(order),
        "current": eta.tracking(session=session, order=order).window,
        "form_key": uuid.uuid4().hex,
        "error": error,
    }
    try:
        context["preview"] = changes.preview(session=session, order=order, config=config)
    except (InvalidConfiguration, DomainError) as err:
        context["error"] = error or err.message
        context["preview"] = None
        return _render(request, context, 422)
    return _render(request, context, 422 if error else 200)


@router.post("/orders/{number}/change")
def confirm_change(
    number: str,
    request: Request,
    session: DbSession,
    me: FormCustomer,
    trim: Annotated[str, Form(min_length=1, max_length=40)],
    total_fen: Annotated[int, Form(ge=0, lt=2**63)],
    configuration: Annotated[str, Form(max_length=300)],
    form_key: Annotated[str, Form(min_length=8, max_length=64)],
    option: Annotated[list[str] | None, Form(max_length=60)] = None,
    latest_delivery: Annotated[date | None, Form(ge=FIRST_DAY, le=LAST_DAY)] = None,
    acknowledge: Annotated[bool, Form()] = False,
) -> Response:
    """Step three: apply the reviewed change once the buyer acknowledged the new price and window."""
    order = ordering.get_for(session=session, principal=me, number=number, for_update=True)
    config = ConfigurationIn(model=order.model, trim=trim, options=option or [])
    confirmation = order_rules.ChangeConfirmation(acknowledge, total_fen, configuration, latest_delivery)
    try:
        with session.begin_nested():
            changes.apply_change(
                session=session,
                principal=me,
                order=order,
                config=config,
                confirmation=confirmation,
                key=f"page:{form_key}",
                ip=request.client.host if request.client else None,
            )
    except DomainError as err:
        session.refresh(order)
        if not changes.may_change(order):
            return _closed(request, order, 422)
        return _review(request, session, order, config, error=err.message)
    return RedirectResponse(f"/orders/{number}", status_code=303)

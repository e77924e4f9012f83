"""Storefront pages: the home page, the models and their trims, and the configurator.

The configurator works without JavaScript: it is a GET form whose query (``trim``, ``option``...)
re-renders the page with the itemised price and any conflicts; ``static/catalog.js`` re-prices it
live through ``POST /api/v1/catalog/price``. One-choice groups are radio buttons, and a browser
treats every radio of one name as one group, so each group's radios are named ``option.<group>``;
checkboxes are named ``option``. The page reads both. "Reserve" is its own GET form to
``/checkout`` carrying ``model``, ``trim`` and repeated ``option`` fields of the priced configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from carloop.analytics.rules import Stage
from carloop.campaigns import attribution
from carloop.campaigns import service as campaigns
from carloop.campaigns.rules import seconds_until
from carloop.catalog import rules, service
from carloop.catalog.compiled import CarModel, Group, Option, Trim
from carloop.catalog.schemas import ConfigurationIn, GroupMode, Quote
from carloop.clock import as_utc, utcnow
from carloop.errors import InvalidConfiguration
from carloop.ordering import terms
from carloop.production import eta
from carloop.web import tracking
from carloop.web.deps import DbSession, OptionalPrincipal

router = APIRouter()

MAX_OPTIONS = 60
ORDER_NUMBER = re.compile(
    r"[A-Z0-9]{1,6}-[A-Z0-9]{1,16}"
)  # as many as ConfigurationIn accepts; a longer query is cut, not refused


@dataclass(frozen=True, slots=True)
class OptionView:
    """One option input of the configurator, as the chosen trim sees it."""

    option: Option
    price_fen: int  # what it costs on the chosen trim (0 when included)
    available: bool
    included: bool
    checked: bool
    offered_on: str  # space-separated trim codes, for catalog.js
    included_on: str
    requires: list[Option]
    excludes: list[Option]


@dataclass(frozen=True, slots=True)
class GroupView:
    """One fieldset of the configurator."""

    group: Group
    input_type: str  # "radio" or "checkbox"
    input_name: str
    options: list[OptionView]
    nothing_checked: bool  # for the "none" radio of an at-most-one group


def _render(request: Request, template: str, context: dict[str, Any]) -> Response:
    response: Response = request.app.state.renderer.render(request, template, context)
    return response


def _version(session: Session) -> str:
    """The catalog version HQ put in force in the console (the newest until it chooses one)."""
    return service.active_catalog_version(session=session)


@router.get("/")
def home(request: Request, session: DbSession) -> Response:
    """The storefront: every model of the catalog in force as a card with its starting price."""
    catalog = service.get_catalog(_version(session))
    sealed = campaigns.sealed_models(session=session)
    context = {"models": list(catalog.models.values()), "home": True, "sealed": sealed}
    return _render(request, "catalog/home.html", context)


@router.get("/models")
def models(request: Request, session: DbSession) -> Response:
    """Every model of the catalog in force."""
    catalog = service.get_catalog(_version(session))
    sealed = campaigns.sealed_models(session=session)
    context = {"models": list(catalog.models.values()), "home": False, "sealed": sealed}
    return _render(request, "catalog/home.html", context)


@router.get("/models/{model}")
def model_page(request: Request, model: str, session: DbSession) -> Response:
    """One model: its trims with prices, what each includes, deposit terms in force and current offers."""
    car = service.get_model(model, version=_version(session))
    tracking.track(request, session, Stage.MODEL_VIEWED, model=car.code)
    sealed = campaigns.sealed_campaign(session=session, model=car.code)
    return _render(
        request,
        "catalog/model.html",
        {
            "model": car,
            "trims": list(car.trims.values()),
            "deposits": terms.storefront_deposits(session=session, car=car),
            "offers": rules.active_incentives(car, at=utcnow()),
            "sealed": sealed,
            "sealed_seconds": seconds_until(as_utc(sealed.reveal_at), utcnow()) if sealed is not None else 0,
        },
    )


@router.get("/configure/{model}")
def configure(request: Request, model: str, session: DbSession, principal: OptionalPrincipal) -> Response:
    """The configurator of the catalog in force, priced server-side for the ``trim`` and ``option`` query.

    Before a campaign's reveal it shows the choices and a countdown: no price, no deposit, no Reserve."""
    car = service.get_model(model, version=_version(session))
    if principal is not None and principal.customer_id is not None:  # links opened before signing in
        attribution.claim_touches(
            session=session, visitor=getattr(request.state, "visitor", ""), customer_id=principal.customer_id
        )
    sealed = campaigns.sealed_campaign(session=session, model=car.code)
    trims = list(car.trims.values())
    trim_code = request.query_params.get("trim") or trims[0].code
    chosen = _chosen_options(request, car)
    trim = car.trims.get(trim_code)
    # Built without validation on purpose: the rules name an odd trim or option code as a conflict,
    # so a hand-edited query shows the page with its problems instead of a validation error.
    config = ConfigurationIn.model_construct(model=car.code, trim=trim_code, options=chosen)
    quote: Quote | None = None
    problems: list[dict[str, Any]] = []
    try:
        quote = terms.storefront_quote(session=session, config=config)
    except InvalidConfiguration as err:
        problems = err.problems
    if sealed is not None:
        quote = None  # the choices are checked, but the price stays hidden
    if quote is not None:
        checked = frozenset(quote.options)
        tracking.track(
            request,
            session,
            Stage.CONFIGURATION_PRICED,
            model=car.code,
            trim=quote.trim,
            total_fen=quote.total_fen,
        )
    elif trim is not None:
        checked = rules.selection(car, trim, chosen)
    else:
        checked = frozenset(chosen)
    context = {
        "model": car,
        "trims": trims,
        "trim": trim,
        "groups": [_group_view(car, trims, trim, group, checked) for group in car.groups.values()],
        "quote": quote,
        "drawn": sorted(checked),  # the drawn car shows the choices even while they conflict
        "eta": eta.eta_for_quote(session=session, quote=quote),
        "no_plan": not eta.plan_published(session=session),
        "deposits": terms.storefront_deposits(session=session, car=car),
        "problems": problems,
        "offers": rules.active_incentives(car, at=utcnow()),
        "change": _change_of(request),
        "sealed": sealed,
        "sealed_seconds": seconds_until(as_utc(sealed.reveal_at), utcnow()) if sealed is not None else 0,
        "perk": attribution.perk_offer(session=session, model=car.code, trim=trim_code),
    }
    return _render(request, "catalog/configure.html", context)


def _change_of(request: Request) -> str | None:
    """The order number a post-lock change is being configured for (``?change=``), if well-formed."""
    number = request.query_params.get("change", "")
    return number if ORDER_NUMBER.fullmatch(number) else None


def _chosen_options(request: Request, car: CarModel) -> list[str]:
    """The ``option`` and ``option.<group>`` query values, without blanks or repeats, at most 60."""
    radio_names = {f"option.{code}" for code in car.groups}
    values = [v for k, v in request.query_params.multi_items() if (k == "option" or k in radio_names) and v]
    return list(dict.fromkeys(values))[:MAX_OPTIONS]


def _group_view(
    car: CarModel, trims: list[Trim], trim: Trim | None, group: Group, checked: frozenset[str]
) -> GroupView:
    views = []
    for code in group.options:
        option = car.options[code]
        line = trim.option_lines.get(code) if trim is not None else None
        views.append(
            OptionView(
                option=option,
                price_fen=line.amount_fen if line is not None else option.price_fen,
                available=line is not None,
                included=line is not None and line.included,
                checked=code in checked,
                offered_on=" ".join(t.code for t in trims if code in t.available),
                included_on=" ".join(t.code for t in trims if code in t.included),
                requires=[car.options[c] for c in sorted(option.requires, key=car.position.__getitem__)],
                excludes=[car.options[c] for c in sorted(option.excludes, key=car.position.__getitem__)],
            )
        )
    single = group.mode is not GroupMode.ANY
    return GroupView(
        group=group,
        input_type="radio" if single else "checkbox",
        input_name=f"option.{group.code}" if single else "option",
        options=views,
        nothing_checked=not any(v.checked for v in views),
    )

"""Catalog JSON API: the current catalog, one model, and pricing a configuration. Public, no sign-in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from carloop.campaigns import service as campaigns
from carloop.catalog import service
from carloop.catalog.schemas import CarModelRead, CatalogRead, ConfigurationIn, Quote
from carloop.ordering import terms
from carloop.web.deps import DbSession

router = APIRouter(tags=["catalog"])

Version = Annotated[
    str | None,
    Query(max_length=20, description="A catalog version such as 2025.07; the one in force when absent."),
]


def _in_force(session: Session, described: CatalogRead) -> CatalogRead:
    """The catalog version in force with HQ's deposit terms in place of the catalog's."""
    models = []
    for read in described.models:
        car = service.get_model(read.code, version=described.version)
        deposits = terms.storefront_deposits(session=session, car=car)
        model_deposit = terms.effective_deposit(session=session, model=car.code, trim="", policy=read.deposit)
        trims = [t.model_copy(update={"deposit": deposits.get(t.code, t.deposit)}) for t in read.trims]
        models.append(read.model_copy(update={"trims": trims, "deposit": model_deposit}))
    return described.model_copy(update={"models": models})


def _described(session: Session, version: str | None) -> CatalogRead:
    active = service.active_catalog_version(session=session)
    described = service.describe(version or active)
    return _in_force(session, described) if described.version == active else described


@router.get("/catalog", response_model=CatalogRead)
def get_catalog(session: DbSession, version: Version = None) -> CatalogRead:
    """Every model, trim, option, price, incentive and deposit policy of a catalog version.

    Without ``version``: the version HQ put in force, with the deposit terms in force.
    """
    described = _described(session, version)
    sealed = campaigns.sealed_models(session=session)  # no price before a campaign's reveal
    return described.model_copy(update={"models": [m for m in described.models if m.code not in sealed]})


@router.get("/catalog/models/{model}", response_model=CarModelRead)
def get_model(model: str, session: DbSession, version: Version = None) -> CarModelRead:
    """One model of a catalog version (the one in force by default); 404 when there is no such model."""
    described = _described(session, version)
    service.get_model(model, version=described.version)  # raises NotFound for an unknown model
    campaigns.ensure_orders_open(session=session, model=model)  # no price before a campaign's reveal
    return next(m for m in described.models if m.code == model)


@router.post(
    "/catalog/price",
    response_model=Quote,
    responses={
        422: {"description": "The configuration breaks catalog rules; `problems` lists each conflict."}
    },
)
def price(config: ConfigurationIn, session: DbSession, version: Version = None) -> Quote:
    """Validate and price a configuration: the itemised breakdown, total, deposit policy and edition.

    Without ``version`` it is priced as a reservation would be: the version in force, HQ's deposit terms.
    Before a campaign's reveal its models have no price yet (a problem says when they will).
    """
    campaigns.ensure_orders_open(session=session, model=config.model, trim=config.trim)
    if version is None:
        return terms.storefront_quote(session=session, config=config)
    return service.quote(config=config, version=version)

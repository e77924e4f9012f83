"""Catalog JSON API: the current catalog, one model, and pricing a configuration. Public, no sign-in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from carloop.catalog import service
from carloop.catalog.schemas import CarModelRead, CatalogRead, ConfigurationIn, Quote

router = APIRouter(tags=["catalog"])

Version = Annotated[
    str | None,
    Query(max_length=20, description="A catalog version such as 2025.07; the current one when absent."),
]


@router.get("/catalog", response_model=CatalogRead)
def get_catalog(version: Version = None) -> CatalogRead:
    """Every model, trim, option group, option, price, incentive and deposit policy of a catalog version."""
    return service.describe(version or service.current_version())


@router.get("/catalog/models/{model}", response_model=CarModelRead)
def get_model(model: str, version: Version = None) -> CarModelRead:
    """One model of a catalog version; 404 when there is no such model."""
    described = service.describe(version or service.current_version())
    service.get_model(model, version=described.version)  # raises NotFound for an unknown model
    return next(m for m in described.models if m.code == model)


@router.post(
    "/catalog/price",
    response_model=Quote,
    responses={
        422: {"description": "The configuration breaks catalog rules; `problems` lists each conflict."}
    },
)
def price(config: ConfigurationIn, version: Version = None) -> Quote:
    """Validate and price a configuration: the itemised breakdown, total, deposit policy and edition."""
    return service.quote(config=config, version=version)

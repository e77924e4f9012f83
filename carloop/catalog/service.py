"""Catalog use cases: load the versioned data files (cached per process) and price configurations.

The data files under ``carloop/catalog/data/<version>.toml`` are the source of truth; the newest
version is the current catalog and older ones stay loadable so that an order can be re-shown with
the catalog it was priced against. They are read-only, so caching them in each process is safe.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.catalog import rules
from carloop.catalog.compiled import CarModel, Catalog, Edition
from carloop.catalog.loader import version_key
from carloop.catalog.models import ActiveCatalog
from carloop.catalog.schemas import (
    CarModelRead,
    CatalogRead,
    ConfigurationIn,
    EditionRead,
    GroupRead,
    IncentiveRead,
    OptionRead,
    Quote,
    TrimRead,
)
from carloop.clock import utcnow
from carloop.errors import NotFound, PermissionDenied


def _data_dir() -> Traversable:
    return files("carloop.catalog") / "data"


@cache
def list_versions() -> tuple[str, ...]:
    """Every catalog version in the data folder, oldest first."""
    names = [f.name.removesuffix(".toml") for f in _data_dir().iterdir() if f.name.endswith(".toml")]
    if not names:
        raise RuntimeError("no catalog data file in carloop/catalog/data")
    return tuple(sorted(names, key=version_key))


def current_version() -> str:
    """The newest catalog version."""
    return list_versions()[-1]


@cache
def get_catalog(version: str) -> Catalog:
    """The compiled catalog of ``version``; ``NotFound`` if there is no such version."""
    if version not in list_versions():
        raise NotFound(f"There is no catalog version '{version}'.", version=version)
    with (_data_dir() / f"{version}.toml").open("rb") as fh:
        catalog = rules.compile_catalog(tomllib.load(fh))
    if catalog.version != version:
        raise ValueError(f"catalog file {version}.toml says version {catalog.version!r}")
    return catalog


def current_catalog() -> Catalog:
    """The current (newest) catalog."""
    return get_catalog(current_version())


def get_model(code: str, *, version: str | None = None) -> CarModel:
    """One model of a catalog version (the current one by default); ``NotFound`` if unknown."""
    catalog = get_catalog(version) if version else current_catalog()
    model = catalog.models.get(code)
    if model is None:
        raise NotFound(f"There is no model '{code}' in catalog {catalog.version}.", model=code)
    return model


def get_edition(code: str, *, version: str | None = None) -> Edition:
    """A numbered limited edition by code, from ``version`` or else the newest version that has it."""
    versions = [version] if version else reversed(list_versions())
    for name in versions:
        edition = get_catalog(name).editions.get(code)
        if edition is not None:
            return edition
    raise NotFound(f"There is no limited edition '{code}'.", edition=code)


def edition_units(code: str, *, version: str | None = None) -> int:
    """How many cars a numbered limited edition has (orders beyond that are refused)."""
    return get_edition(code, version=version).units


def quote(*, config: ConfigurationIn, at: datetime | None = None, version: str | None = None) -> Quote:
    """Price ``config`` against a catalog version (current by default) at ``at`` (now by default)."""
    catalog = get_catalog(version) if version else current_catalog()
    return rules.price(catalog, config, at=at or utcnow())


@cache
def describe(version: str) -> CatalogRead:
    """The public description of a catalog version, as ``GET /api/v1/catalog`` returns it."""
    catalog = get_catalog(version)
    return CatalogRead(
        version=catalog.version,
        published=catalog.published,
        current=catalog.version == current_version(),
        models=[_model_read(model) for model in catalog.models.values()],
    )


def _edition_read(edition: Edition | None) -> EditionRead | None:
    if edition is None:
        return None
    return EditionRead(code=edition.code, units=edition.units, numbered=edition.numbered)


def _model_read(model: CarModel) -> CarModelRead:
    trims = list(model.trims.values())
    groups = [
        GroupRead(
            code=group.code,
            mode=group.mode,
            name_en=group.name_en,
            name_zh=group.name_zh,
            default=group.default,
            options=[
                OptionRead(
                    code=option.code,
                    group=option.group,
                    name_en=option.name_en,
                    name_zh=option.name_zh,
                    price_fen=option.price_fen,
                    trims=[t.code for t in trims if option.code in t.available],
                    included_on=[t.code for t in trims if option.code in t.included],
                    requires=sorted(option.requires, key=model.position.__getitem__),
                    excludes=sorted(option.excludes, key=model.position.__getitem__),
                )
                for option in (model.options[c] for c in group.options)
            ],
        )
        for group in model.groups.values()
    ]
    return CarModelRead(
        code=model.code,
        name_en=model.name_en,
        name_zh=model.name_zh,
        body_en=model.body_en,
        body_zh=model.body_zh,
        tagline_en=model.tagline_en,
        tagline_zh=model.tagline_zh,
        launched=model.launched,
        from_price_fen=model.from_price_fen,
        deposit=model.deposit,
        trims=[
            TrimRead(
                code=trim.code,
                name_en=trim.name_en,
                name_zh=trim.name_zh,
                price_fen=trim.price_fen,
                included=sorted(trim.included, key=model.position.__getitem__),
                defaults=dict(trim.defaults),
                deposit=trim.deposit,
                edition=_edition_read(trim.edition),
                highlights_en=list(trim.highlights_en),
                highlights_zh=list(trim.highlights_zh),
            )
            for trim in trims
        ],
        groups=groups,
        incentives=[
            IncentiveRead(
                code=i.code,
                name_en=i.name_en,
                name_zh=i.name_zh,
                amount_fen=i.amount_fen,
                trims=sorted(i.trims) if i.trims is not None else None,
                options=sorted(i.options) if i.options is not None else None,
                valid_from=i.valid_from,
                valid_until=i.valid_until,
            )
            for i in model.incentives
        ],
    )


# --- the version in force (HQ chooses it in the console) ---------------------------------------


def active_catalog_version(*, session: Session) -> str:
    """The catalog version in force: the one HQ activated, else the newest."""
    row = session.get(ActiveCatalog, 1)
    if row is not None and row.version in list_versions():
        return row.version
    return current_version()


def activate_catalog_version(
    *, session: Session, actor: Principal, version: str, ip: str | None = None
) -> ActiveCatalog:
    """Make ``version`` the catalog in force (HQ only); audited."""
    if actor.role not in (Role.HQ_OPS, Role.ADMIN):
        raise PermissionDenied("Only headquarters operations or an admin may change this.")
    if version not in list_versions():
        raise NotFound(f"There is no catalog version '{version}'.", version=version)
    previous = active_catalog_version(session=session)
    row = session.get(ActiveCatalog, 1)
    if row is None:
        row = ActiveCatalog(id=1, version=version, activated_by=actor.actor)
        session.add(row)
    else:
        row.version, row.activated_by, row.activated_at = version, actor.actor, utcnow()
    session.flush()
    audit.record(
        session=session,
        principal=actor,
        action="catalog.activated",
        target_type="catalog",
        target_id=version,
        detail={"previous": previous},
        ip=ip,
    )
    return row

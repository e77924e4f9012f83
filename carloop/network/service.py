"""Store network use cases: look up, list and create outlets."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.errors import Conflict, NotFound
from carloop.network.models import Store
from carloop.network.schemas import StoreKind


def get_store(*, session: Session, store_id: int) -> Store:
    """The outlet with this id; ``NotFound`` if there is none."""
    store = session.get(Store, store_id)
    if store is None:
        raise NotFound("No such store.", store_id=store_id)
    return store


def find_store(*, session: Session, code: str) -> Store | None:
    """The outlet with this code, or None."""
    return session.scalars(select(Store).where(Store.code == code)).one_or_none()


def list_stores(*, session: Session, kind: StoreKind | None = None, city: str | None = None) -> list[Store]:
    """Outlets ordered by code, optionally only of one kind or in one city."""
    query = select(Store).order_by(Store.code)
    if kind is not None:
        query = query.where(Store.kind == kind)
    if city is not None:
        query = query.where(Store.city == city)
    return list(session.scalars(query))


def create_store(
    *,
    session: Session,
    code: str,
    kind: StoreKind,
    name_en: str,
    name_zh: str,
    city: str,
    province: str,
) -> Store:
    """Add an outlet; ``Conflict`` if its code is taken."""
    if find_store(session=session, code=code) is not None:
        raise Conflict("A store with this code already exists.", store_code=code)
    store = Store(code=code, kind=kind, name_en=name_en, name_zh=name_zh, city=city, province=province)
    session.add(store)
    session.flush()
    return store

"""The store finder, delivery-centre assignment under load, reassignment and notices."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.errors import CapacityExhausted, NotFound, PolicyViolation
from carloop.network import service as network
from carloop.network.models import Store
from carloop.network.schemas import StoreKind, StoreService
from carloop.notices import service as notices
from carloop.ordering import service as ordering
from carloop.ordering.rules import OrderStatus

from .conftest import PROVIDER, advance_to, buyer, paid_order, seed


def test_seeding_is_idempotent_and_keeps_existing_stores(session: Session) -> None:
    early = network.create_store(
        session=session,
        code="BJ-DC-01",
        kind=StoreKind.DELIVERY_CENTRE,
        name_en="x",
        name_zh="x",
        city="Beijing",
        province="Beijing",
    )
    assert network.seed_sample_network(session=session) == 350
    assert network.seed_sample_network(session=session) == 350
    assert len(network.list_stores(session=session)) == 350
    refreshed = network.get_store_by_code(session=session, code="BJ-DC-01")
    assert refreshed.id == early.id and refreshed.latitude is not None and refreshed.delivery_bays > 0


def test_the_finder_returns_the_nearest_outlets_with_the_model_on_display(session: Session) -> None:
    seed(session)
    found = network.find_stores(
        session=session, city="Beijing", service=StoreService.TEST_DRIVE, model="yu7", limit=5
    )
    assert len(found) == 5
    distances = [f.distance_km or 0 for f in found]
    assert distances == sorted(distances) and distances[-1] < 20
    for f in found:
        assert f.store.city == "Beijing"
        assert network.demo_cars_of(f.store, "yu7") > 0
        assert f.store.kind is not StoreKind.SERVICE_OUTLET


def test_the_finder_by_point_and_kind(session: Session) -> None:
    seed(session)
    found = network.find_stores(
        session=session, lat=31.23, lon=121.47, kind=StoreKind.SERVICE_OUTLET, limit=3
    )
    assert [f.store.city for f in found] == ["Shanghai", "Shanghai", found[2].store.city]
    assert all(f.store.kind is StoreKind.SERVICE_OUTLET for f in found)


def test_an_unknown_city_is_not_found(session: Session) -> None:
    seed(session)
    with pytest.raises(NotFound):
        network.find_stores(session=session, city="Atlantis")
    with pytest.raises(PolicyViolation):
        network.find_stores(session=session, lat=30.0)


def test_an_order_gets_its_citys_centre_and_the_timeline_records_it(session: Session) -> None:
    seed(session)
    me = buyer(session)
    order = paid_order(session, me.customer_id or 0)
    found = network.assign_delivery_centre(session=session, order=order, city="Shanghai", actor=me.actor)
    assert found.store.code == "SH-DC-01"
    assert order.delivery_store_id == found.store.id
    assert order.events[-1].data["delivery_store_id"] == found.store.id


def test_a_nearly_full_centre_sends_the_next_buyer_to_a_nearby_one_with_room(session: Session) -> None:
    seed(session)
    sh = network.get_store_by_code(session=session, code="SH-DC-01")
    sh.storage_capacity = 2
    me = buyer(session)
    first = paid_order(session, me.customer_id or 0)
    second = paid_order(session, me.customer_id or 0)
    assert (
        network.assign_delivery_centre(session=session, order=first, city="Shanghai", actor="t").store.code
        == "SH-DC-01"
    )
    other = network.assign_delivery_centre(session=session, order=second, city="Shanghai", actor="t").store
    assert other.code != "SH-DC-01" and other.kind is StoreKind.DELIVERY_CENTRE
    # reassigning the same order to the same city keeps it where it is
    assert (
        network.assign_delivery_centre(session=session, order=first, city="Shanghai", actor="t").store.code
        == "SH-DC-01"
    )


def test_no_centre_with_room_is_capacity_exhausted(session: Session) -> None:
    seed(session)
    for store in session.query(Store).filter(Store.kind == StoreKind.DELIVERY_CENTRE):
        store.storage_capacity = 0
    order = paid_order(session, buyer(session).customer_id or 0)
    with pytest.raises(CapacityExhausted):
        network.assign_delivery_centre(session=session, order=order, city="Beijing", actor="t")


def test_an_overloaded_centre_moves_its_newest_orders_and_tells_the_buyers(session: Session) -> None:
    seed(session)
    me = buyer(session)
    orders = [paid_order(session, me.customer_id or 0) for _ in range(3)]
    for order in orders:
        network.assign_delivery_centre(session=session, order=order, city="Beijing", actor="t")
    arrived = advance_to(session, orders[0], OrderStatus.AT_DELIVERY_CENTRE)
    bj = network.get_store_by_code(session=session, code="BJ-DC-01")
    bj.storage_capacity = 1  # capacity cut: two orders too many
    hq = Principal(role=Role.HQ_OPS, staff_id=9, display_name="hq")
    moved = network.rebalance_centre(session=session, store_id=bj.id, actor=hq.actor, principal=hq)
    entries = audit.list_entries(session=session, action="network.rebalance")
    assert len(entries) == 1 and entries[0].detail["moved"] == moved and entries[0].actor == hq.actor
    assert moved == [orders[2].number, orders[1].number]  # the newest movable ones; the arrived car stays
    assert arrived.delivery_store_id == bj.id
    assert all(o.delivery_store_id not in (None, bj.id) for o in orders[1:])
    assert network.rebalance_centre(session=session, store_id=bj.id, actor="staff:9") == []
    told = [
        n for n in notices.inbox(session=session, customer_id=me.customer_id or 0) if n.source == "network"
    ]
    assert sorted(n.order_number for n in told) == sorted(moved)  # once each, in the one notices inbox
    assert all(n.kind == "centre_changed" and "new delivery centre" in n.subject_en for n in told)
    assert all("交付中心改为" in n.subject_zh and "已满额" in n.body_zh for n in told)
    assert all("is at capacity" in n.body_en for n in told)
    # the new centre's address in the reader's language: no English road name in the Chinese body
    assert all("路" in n.body_zh and not re.search("[A-Za-z]", n.body_zh) for n in told)
    assert all("Road" in n.body_en and not re.search("[\u4e00-\u9fff]", n.body_en) for n in told)


def test_the_demo_seed_leaves_a_car_at_the_beijing_centre_once(session: Session) -> None:
    from carloop.network import demo

    me = buyer(session)
    number = demo.seed_demo(session=session, provider=PROVIDER, customer_id=me.customer_id or 0)
    assert number is not None
    assert demo.seed_demo(session=session, provider=PROVIDER, customer_id=me.customer_id or 0) is None
    order = ordering.load(session=session, number=number)
    assert order.status is OrderStatus.AT_DELIVERY_CENTRE
    assert network.get_store(session=session, store_id=order.delivery_store_id or 0).code == "BJ-DC-01"

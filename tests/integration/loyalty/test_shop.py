"""The shop: checkout in points, no oversell under concurrency, history, refunds through the ledger."""

from __future__ import annotations

import threading

import pytest
from builders.accounts import owner
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Principal, Role
from carloop.errors import CapacityExhausted, NotFound, PolicyViolation
from carloop.loyalty import ledger, service, shop
from carloop.loyalty.models import Product, ShopOrderStatus

STAFF = Principal(role=Role.HQ_OPS, staff_id=1)


def _fund(session: Session, customer_id: int, points: int) -> None:
    service.grant_compensation(
        session=session,
        principal=STAFF,
        customer_id=customer_id,
        points=points,
        reason="test",
        key=f"fund{customer_id}",
    )


def test_checkout_takes_points_and_stock_and_refund_returns_both(session: Session) -> None:
    buyer = owner(session)
    _fund(session, buyer, 5000)
    mug = shop.add_product(
        session=session, sku="MUG", name_zh="马克杯", name_en="Mug", price_points=800, stock=5
    )
    order = shop.checkout(session=session, customer_id=buyer, quantities={"MUG": 2})
    assert order.points_total == 1600 and mug.stock == 3
    assert service.balance(session=session, customer_id=buyer) == 3400
    assert shop.orders_for(session=session, customer_id=buyer) == [order]
    shop.refund(session=session, order=order, reason="changed my mind")
    shop.refund(session=session, order=order, reason="again")
    session.refresh(mug)
    assert order.status is ShopOrderStatus.REFUNDED and mug.stock == 5
    assert service.balance(session=session, customer_id=buyer) == 5000
    assert ledger.check(session=session).ok


def test_a_short_balance_sells_nothing(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        buyer = owner(session)
        _fund(session, buyer, 100)
        shop.add_product(session=session, sku="CAP", name_zh="帽子", name_en="Cap", price_points=500, stock=1)
    with pytest.raises(PolicyViolation), session_factory.begin() as session:
        shop.checkout(session=session, customer_id=buyer, quantities={"CAP": 1})
    with session_factory.begin() as session:
        assert session.query(Product).one().stock == 1
        assert shop.orders_for(session=session, customer_id=buyer) == []


def test_unknown_products_and_empty_carts_are_refused(session: Session) -> None:
    buyer = owner(session)
    with pytest.raises(NotFound):
        shop.checkout(session=session, customer_id=buyer, quantities={"NOPE": 1})
    with pytest.raises(PolicyViolation):
        shop.checkout(session=session, customer_id=buyer, quantities={"NOPE": 0})


def test_the_same_checkout_key_buys_once(session: Session) -> None:
    buyer = owner(session)
    _fund(session, buyer, 5000)
    shop.add_product(session=session, sku="MUG", name_zh="马克杯", name_en="Mug", price_points=800, stock=5)
    first = shop.checkout(session=session, customer_id=buyer, quantities={"MUG": 1}, key="abc123")
    again = shop.checkout(session=session, customer_id=buyer, quantities={"MUG": 1}, key="abc123")
    assert first.id == again.id and service.balance(session=session, customer_id=buyer) == 4200


def test_concurrent_checkouts_never_oversell(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        buyers = [owner(session, f"1380013810{i}") for i in range(6)]
        for b in buyers:
            _fund(session, b, 1000)
        shop.add_product(
            session=session, sku="KEY", name_zh="钥匙扣", name_en="Key ring", price_points=100, stock=4
        )
    outcomes: list[str] = []
    start = threading.Barrier(len(buyers))

    def buy(customer_id: int) -> None:
        start.wait()
        try:
            with session_factory.begin() as session:
                shop.checkout(session=session, customer_id=customer_id, quantities={"KEY": 1})
            outcomes.append("ok")
        except CapacityExhausted:
            outcomes.append("sold out")

    threads = [threading.Thread(target=buy, args=(b,)) for b in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] * 4 + ["sold out"] * 2
    with session_factory.begin() as session:
        assert session.query(Product).one().stock == 0
        assert sum(service.balance(session=session, customer_id=b) for b in buyers) == 6000 - 400

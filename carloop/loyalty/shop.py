"""Shop use cases: products, checkout paid with points (no oversell), order history, refunds."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carloop.clock import utcnow
from carloop.errors import CapacityExhausted, NotFound, PolicyViolation
from carloop.loyalty import rules, service
from carloop.loyalty.models import Product, ShopOrder, ShopOrderLine, ShopOrderStatus


def add_product(
    *, session: Session, sku: str, name_zh: str, name_en: str, price_points: int, stock: int
) -> Product:
    """Put a product on sale (or update the one with this SKU)."""
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        product = Product(sku=sku, name_zh=name_zh, name_en=name_en, price_points=price_points, stock=stock)
        session.add(product)
    else:
        product.name_zh, product.name_en, product.price_points, product.stock = (
            name_zh,
            name_en,
            price_points,
            stock,
        )
    session.flush()
    return product


def list_products(*, session: Session) -> list[Product]:
    """Products on sale, by SKU."""
    return list(session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.sku)))


def checkout(
    *, session: Session, customer_id: int, quantities: Mapping[str, int], key: str | None = None
) -> ShopOrder:
    """Buy the cart with points: stock is taken with one conditional update per line, never oversold."""
    if key:  # the same owner's retry with the same key lands on the same order
        number = "S" + hashlib.sha256(f"{customer_id}:{key}".encode()).hexdigest()[:16].upper()
    else:
        number = "S" + secrets.token_hex(8).upper()
    existing = session.scalar(select(ShopOrder).where(ShopOrder.number == number))
    if existing is not None:
        return existing
    wanted = {sku: qty for sku, qty in quantities.items() if qty}
    if not wanted:
        raise PolicyViolation("The cart is empty.")
    if any(qty < 0 for qty in wanted.values()):
        raise PolicyViolation("Quantities are positive.")
    products = {
        p.sku: p
        for p in session.scalars(select(Product).where(Product.sku.in_(wanted), Product.active.is_(True)))
    }
    missing = sorted(set(wanted) - set(products))
    if missing:
        raise NotFound(f"No product {', '.join(missing)}.")
    cart = [
        rules.CartLine(products[sku].id, qty, products[sku].price_points)
        for sku, qty in sorted(wanted.items())
    ]
    total = rules.cart_total(cart)
    for line in sorted(cart, key=lambda c: c.product_id):  # id order: two checkouts never deadlock
        taken = session.execute(
            update(Product)
            .where(Product.id == line.product_id, Product.stock >= line.quantity)
            .values(stock=Product.stock - line.quantity)
            .execution_options(synchronize_session=False)
        )
        if not taken.rowcount:  # type: ignore[attr-defined]
            sku = next(s for s, p in products.items() if p.id == line.product_id)
            raise CapacityExhausted(f"Not enough {sku} in stock.", sku=sku)
    order = ShopOrder(number=number, customer_id=customer_id, status=ShopOrderStatus.PAID, points_total=total)
    order.lines = [
        ShopOrderLine(product_id=c.product_id, quantity=c.quantity, points_each=c.points_each) for c in cart
    ]
    session.add(order)
    service.spend_points(
        session=session, customer_id=customer_id, points=total, key=f"shop:{number}", memo=number
    )
    session.flush()
    for product in products.values():
        session.refresh(product)
    return order


def orders_for(*, session: Session, customer_id: int) -> list[ShopOrder]:
    """An owner's shop orders, newest first."""
    query = select(ShopOrder).where(ShopOrder.customer_id == customer_id).order_by(ShopOrder.id.desc())
    return list(session.scalars(query))


def get_order(*, session: Session, number: str, customer_id: int | None = None) -> ShopOrder:
    """A shop order by number; with ``customer_id``, only that owner's."""
    order = session.scalar(select(ShopOrder).where(ShopOrder.number == number).with_for_update())
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise NotFound(f"No shop order {number}.")
    return order


def refund(*, session: Session, order: ShopOrder, reason: str) -> ShopOrder:
    """Return the points and the stock of a shop order, once."""
    if order.status is ShopOrderStatus.REFUNDED:
        return order
    for line in sorted(order.lines, key=lambda ln: ln.product_id):
        session.execute(
            update(Product)
            .where(Product.id == line.product_id)
            .values(stock=Product.stock + line.quantity)
            .execution_options(synchronize_session=False)
        )
    service.return_points(
        session=session,
        customer_id=order.customer_id,
        points=order.points_total,
        key=f"shop:{order.number}",
        memo=reason,
    )
    order.status = ShopOrderStatus.REFUNDED
    order.refunded_at = utcnow()
    session.flush()
    return order

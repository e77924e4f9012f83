"""HQ keeps the shop's catalogue: products with their prices (points, cash), on sale or not, and
stock moved by deltas (one conditional UPDATE, so a restock never overwrites checkouts racing it).
Every change is audited."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal
from carloop.audit import service as audit
from carloop.errors import NotFound, PolicyViolation
from carloop.loyalty.models import Product

MAX_STOCK_MOVE = 100_000
MAX_POINTS = 10_000_000
MAX_PRICE_FEN = 100_000_000  # ¥1,000,000: merchandise, not a car


def all_products(*, session: Session) -> list[Product]:
    """Every product, on sale or not, by SKU."""
    return list(session.scalars(select(Product).order_by(Product.sku)))


def save_product(
    *,
    session: Session,
    principal: Principal,
    sku: str,
    name_zh: str,
    name_en: str,
    price_points: int,
    price_fen: int,
    active: bool,
    ip: str | None = None,
) -> Product:
    """Create a product or change one's names, prices and whether it is on sale (not its stock)."""
    if not 0 < price_points <= MAX_POINTS or not 0 <= price_fen <= MAX_PRICE_FEN:
        raise PolicyViolation("A product costs more than 0 points and at most ¥1,000,000 in cash.")
    if not name_zh.strip() or not name_en.strip():
        raise PolicyViolation("A product needs a Chinese and an English name.")
    product = session.scalar(select(Product).where(Product.sku == sku))
    created = product is None
    if product is None:
        product = Product(sku=sku, stock=0)
        session.add(product)
    product.name_zh, product.name_en = name_zh.strip(), name_en.strip()
    product.price_points, product.price_fen, product.active = price_points, price_fen, active
    session.flush()
    audit.record(
        session=session,
        principal=principal,
        action="shop.product.create" if created else "shop.product.update",
        target_type="product",
        target_id=sku,
        detail={"price_points": price_points, "price_fen": price_fen, "active": active},
        ip=ip,
    )
    return product


def adjust_stock(
    *, session: Session, principal: Principal, sku: str, delta: int, reason: str, ip: str | None = None
) -> int:
    """Add (or with a negative delta take out) stock; refused if it would go below zero. The new stock."""
    if delta == 0 or abs(delta) > MAX_STOCK_MOVE:
        raise PolicyViolation("Move between 1 and 100,000 units, in or out.")
    if not reason.strip():
        raise PolicyViolation("Say why the stock changes (a delivery, a count, damage).")
    if session.scalar(select(Product.id).where(Product.sku == sku)) is None:
        raise NotFound(f"No product {sku}.")
    stock = session.scalar(
        update(Product)
        .where(Product.sku == sku, Product.stock + delta >= 0)
        .values(stock=Product.stock + delta)
        .returning(Product.stock)
    )
    if stock is None:
        raise PolicyViolation("There is not that much stock to take out.")
    audit.record(
        session=session,
        principal=principal,
        action="shop.stock.adjust",
        target_type="product",
        target_id=sku,
        detail={"delta": delta, "stock": int(stock), "reason": reason.strip()[:200]},
        ip=ip,
    )
    return int(stock)

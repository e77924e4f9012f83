"""Shop use cases: products, checkout paid with points, cash or both (no oversell), history, refunds.

Checkout takes the stock (one conditional update per line) and the points at once. When part of the
price is paid in cash the order waits for its payment: the provider's notification (delivered to
``/api/v1/payments/notify/{provider}`` like a deposit's) reaches ``on_payment_notified``, which marks
it paid and books the sale, or, when the payment was abandoned, cancels it and gives the points and
the stock back. A payment that arrives after the order was cancelled is refunded at once. Staff
refunds return points through the points ledger, cash through the money ledger, and the stock.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carloop.clock import utcnow
from carloop.errors import CapacityExhausted, NotFound, PolicyViolation
from carloop.loyalty import rules, service
from carloop.loyalty.models import Product, ShopOrder, ShopOrderLine, ShopOrderStatus
from carloop.payments import service as payments
from carloop.payments import shop as shop_payments
from carloop.payments.models import Payment, PaymentStatus
from carloop.payments.providers.base import PaymentProvider
from carloop.payments.service import NotificationOutcome, NotificationResult


def add_product(
    *,
    session: Session,
    sku: str,
    name_zh: str,
    name_en: str,
    price_points: int,
    stock: int,
    price_fen: int = 0,
) -> Product:
    """Put a product on sale (or update the one with this SKU); ``price_fen`` 0 sells it for points only."""
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        product = Product(
            sku=sku,
            name_zh=name_zh,
            name_en=name_en,
            price_points=price_points,
            stock=stock,
            price_fen=price_fen,
        )
        session.add(product)
    else:
        product.name_zh, product.name_en, product.price_points, product.stock, product.price_fen = (
            name_zh,
            name_en,
            price_points,
            stock,
            price_fen,
        )
    session.flush()
    return product


def list_products(*, session: Session) -> list[Product]:
    """Products on sale, by SKU."""
    return list(session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.sku)))


def checkout(
    *,
    session: Session,
    customer_id: int,
    quantities: Mapping[str, int],
    key: str | None = None,
    points: int | None = None,
) -> ShopOrder:
    """Buy a cart: stock is taken with one conditional update per line, never oversold.

    ``points`` is how many points to pay with (all of the points price when None); the rest of the
    price is due in cash and the order waits for its payment (``start_payment``). The points are
    taken now, under the owner's wallet lock, so they can never go negative.
    """
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
        rules.CartLine(products[sku].id, qty, products[sku].price_points, products[sku].price_fen)
        for sku, qty in sorted(wanted.items())
    ]
    total = rules.cart_total(cart)
    points_used = total if points is None else points
    if not 0 <= points_used <= total:
        raise PolicyViolation(f"Pay between 0 and {total} points for this cart.", total_points=total)
    cash_fen = 0
    if points_used < total:
        cash_total = rules.cart_cash_total(cart)
        if cash_total is None:
            raise PolicyViolation("Something in the cart is sold for points only.")
        cash_fen = rules.cash_due(total_points=total, total_fen=cash_total, points_used=points_used)
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
    paid = cash_fen == 0
    order = ShopOrder(
        number=number,
        customer_id=customer_id,
        status=ShopOrderStatus.PAID if paid else ShopOrderStatus.AWAITING_PAYMENT,
        points_total=points_used,
        cash_fen=cash_fen,
        paid_at=utcnow() if paid else None,
    )
    order.lines = [
        ShopOrderLine(product_id=c.product_id, quantity=c.quantity, points_each=c.points_each) for c in cart
    ]
    session.add(order)
    if points_used:
        service.spend_points(
            session=session, customer_id=customer_id, points=points_used, key=f"shop:{number}", memo=number
        )
    session.flush()
    for product in products.values():
        session.refresh(product)
    return order


def start_payment(
    *, session: Session, provider: PaymentProvider, order: ShopOrder, base_url: str, return_url: str
) -> Payment:
    """The pending payment for a shop order's cash part (the same one while it is pending)."""
    if order.status is not ShopOrderStatus.AWAITING_PAYMENT:
        raise PolicyViolation(f"Shop order {order.number} is {order.status}; nothing is left to pay.")
    return shop_payments.start_payment(
        session=session,
        provider=provider,
        shop_order_id=order.id,
        amount_fen=order.cash_fen,
        subject=f"carloop shop {order.number}",
        return_url=return_url,
        notify_url=f"{base_url.rstrip('/')}/api/v1/payments/notify/{provider.name}",
        customer_id=order.customer_id,
    )


def payments_of(*, session: Session, order: ShopOrder) -> list[Payment]:
    """Every payment of a shop order, oldest first."""
    return shop_payments.payments_for(session=session, shop_order_id=order.id)


def on_payments_captured(
    *, session: Session, provider: PaymentProvider, results: Sequence[NotificationResult]
) -> None:
    """Settle the shop orders of a batch of applied notifications (the payments domain's shop handler)."""
    for result in results:
        on_payment_notified(session=session, provider=provider, result=result)


def on_payment_notified(*, session: Session, provider: PaymentProvider, result: NotificationResult) -> None:
    """Settle a shop order after its payment's notification was applied (called in the same transaction)."""
    payment = payments.get_payment(session=session, trade_no=result.payment.trade_no)
    order = session.scalar(select(ShopOrder).where(ShopOrder.id == payment.shop_order_id).with_for_update())
    if order is None:
        raise NotFound(f"No shop order for payment {payment.trade_no}.")
    if result.outcome is NotificationOutcome.CAPTURED:
        if order.status is ShopOrderStatus.AWAITING_PAYMENT and payment.amount_fen == order.cash_fen:
            order.status = ShopOrderStatus.PAID
            order.paid_at = payment.paid_at or utcnow()
            shop_payments.book_sale(session=session, payment=payment)
        else:  # paid after the order was cancelled, or paid twice: the money goes straight back
            shop_payments.refund(
                session=session,
                provider=provider,
                payment=payment,
                reason=f"shop order {order.number} is {order.status}",
            )
    elif result.outcome is NotificationOutcome.CLOSED and order.status is ShopOrderStatus.AWAITING_PAYMENT:
        _cancel(session, order, reason="payment abandoned")
    session.flush()


def cancel_unpaid(*, session: Session, order: ShopOrder) -> ShopOrder:
    """The owner gives up an order still waiting for its cash: close the payment, return points and stock."""
    if order.status is not ShopOrderStatus.AWAITING_PAYMENT:
        raise PolicyViolation(f"Shop order {order.number} is {order.status}; it cannot be cancelled.")
    for payment in payments_of(session=session, order=order):
        payments.close_payment(session=session, payment=payment)
    _cancel(session, order, reason="cancelled by the owner before paying")
    session.flush()
    return order


def _cancel(session: Session, order: ShopOrder, *, reason: str) -> None:
    _give_back(session, order, reason=reason)
    order.status = ShopOrderStatus.CANCELLED


def _give_back(session: Session, order: ShopOrder, *, reason: str) -> None:
    """Return a shop order's stock and points (points once, by key)."""
    for line in sorted(order.lines, key=lambda ln: ln.product_id):
        session.execute(
            update(Product)
            .where(Product.id == line.product_id)
            .values(stock=Product.stock + line.quantity)
            .execution_options(synchronize_session=False)
        )
    if order.points_total:
        service.return_points(
            session=session,
            customer_id=order.customer_id,
            points=order.points_total,
            key=f"shop:{order.number}",
            memo=reason,
        )


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


def refund(
    *, session: Session, order: ShopOrder, reason: str, provider: PaymentProvider | None = None
) -> ShopOrder:
    """Return the points, the cash and the stock of a paid shop order, once (a repeat changes nothing)."""
    if order.status is ShopOrderStatus.REFUNDED:
        return order
    if order.status is not ShopOrderStatus.PAID:
        raise PolicyViolation(f"Shop order {order.number} is {order.status}; only paid orders are refunded.")
    captured = [p for p in payments_of(session=session, order=order) if p.status is PaymentStatus.SUCCEEDED]
    if captured and provider is None:
        raise ValueError("refunding cash needs the payment provider")
    for payment in captured:
        assert provider is not None
        shop_payments.refund(session=session, provider=provider, payment=payment, reason=reason)
    _give_back(session, order, reason=reason)
    order.status = ShopOrderStatus.REFUNDED
    order.refunded_at = utcnow()
    session.flush()
    return order

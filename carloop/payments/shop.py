"""The cash side of the merchandise shop: start a shop payment, book the sale, refund it.

A shop payment is an ordinary provider payment whose ``shop_order_id`` is set instead of a car
order. The provider's notification is applied like any other (``captures.capture_many`` books
cash in and a prepayment with no car order); in the same transaction the shop either books the sale
(prepayment → ``shop_sales``) or refunds the money. A refund first reverses the sale, then returns
the cash through ``service.refund_payment``. So outside a transaction no prepayment is left without a
car order, and ``ledger.check`` reconciles ``shop_sales`` with shop payments minus their refunds.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.payments import ledger, service
from carloop.payments.models import Account, JournalEntry, Payment, PaymentPurpose, PaymentStatus, Refund
from carloop.payments.providers.base import PaymentProvider
from carloop.payments.rules import Line


def sale_lines(amount_fen: int) -> list[Line]:
    """The buyer's prepayment becomes shop income."""
    _positive(amount_fen)
    return [Line(Account.CUSTOMER_PREPAYMENTS, amount_fen), Line(Account.SHOP_SALES, -amount_fen)]


def return_lines(amount_fen: int) -> list[Line]:
    """A refunded sale: the income goes back to being owed to the buyer (reverse of ``sale_lines``)."""
    _positive(amount_fen)
    return [Line(Account.SHOP_SALES, amount_fen), Line(Account.CUSTOMER_PREPAYMENTS, -amount_fen)]


def _positive(amount_fen: int) -> None:
    if amount_fen <= 0:
        raise ValueError(f"amounts are positive integers of fen, got {amount_fen!r}")


def start_payment(
    *,
    session: Session,
    provider: PaymentProvider,
    shop_order_id: int,
    amount_fen: int,
    subject: str,
    return_url: str,
    notify_url: str,
    customer_id: int | None = None,
) -> Payment:
    """The shop order's pending payment, created once (asking again returns the pending one)."""
    pending = session.scalar(
        select(Payment)
        .where(Payment.shop_order_id == shop_order_id, Payment.status == PaymentStatus.PENDING)
        .order_by(Payment.id.desc())
    )
    if pending is not None:
        return pending
    return service.start_payment(
        session=session,
        provider=provider,
        order_id=None,
        shop_order_id=shop_order_id,
        purpose=PaymentPurpose.SHOP,
        amount_fen=amount_fen,
        subject=subject,
        return_url=return_url,
        notify_url=notify_url,
        customer_id=customer_id,
    )


def payments_for(*, session: Session, shop_order_id: int) -> list[Payment]:
    """Every payment of a shop order, oldest first."""
    query = select(Payment).where(Payment.shop_order_id == shop_order_id).order_by(Payment.id)
    return list(session.scalars(query))


def book_sale(*, session: Session, payment: Payment) -> None:
    """A captured shop payment paid for goods the buyer gets: book it as shop income (once)."""
    if payment.shop_order_id is None or payment.status is not PaymentStatus.SUCCEEDED:
        raise ValueError(f"payment {payment.trade_no} is not a captured shop payment")
    ledger.post(
        session=session,
        key=f"shop-sale:{payment.trade_no}",
        kind="shop_sale",
        lines=sale_lines(payment.amount_fen),
        memo=f"shop order {payment.shop_order_id}",
    )


def refund(*, session: Session, provider: PaymentProvider, payment: Payment, reason: str) -> Refund | None:
    """Give a shop payment's cash back, once: reverse its sale (if booked), then refund at the provider."""
    if payment.shop_order_id is None:
        raise ValueError(f"payment {payment.trade_no} is not a shop payment")
    if payment.status is not PaymentStatus.SUCCEEDED:
        return None
    sale = session.scalar(
        select(JournalEntry.id).where(JournalEntry.idempotency_key == f"shop-sale:{payment.trade_no}")
    )
    if sale is not None:
        ledger.post(
            session=session,
            key=f"shop-return:{payment.trade_no}",
            kind="shop_return",
            lines=return_lines(payment.amount_fen),
            memo=reason[:300],
        )
    return service.refund_payment(
        session=session, provider=provider, payment=payment, reason=reason, refund_no=f"RF-{payment.trade_no}"
    )

"""Notices that matter, from other domains' happenings: money captured or refunded (``receipts.issued``),
a delivery slot booked, and the warning a day before an order's configuration locks.

Each is keyed by what it tells of (the receipt number, the appointment and its time, the order), so
a redelivered event or a second job round leaves no second notice; ``notify`` picks the channels
(these kinds go by SMS as well as in-app).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy.orm import Session

from carloop.clock import SHANGHAI, as_utc, utcnow
from carloop.money import format_fen
from carloop.notices import service as notices
from carloop.notices.models import Notice
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.outbox.service import Handler
from carloop.receipts import service as receipts
from carloop.receipts.models import ReceiptKind

LOCK_WARNING_BEFORE = timedelta(hours=24)
LOCK_WARNING_BATCH = 500


def _local(moment: datetime) -> str:
    return as_utc(moment).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def on_receipts_issued(session: Session, payload: Mapping[str, Any]) -> None:
    """Tell each buyer of the money their receipt acknowledges (once per receipt)."""
    for number in payload.get("numbers", []):
        receipt = receipts.get_receipt(session=session, number=str(number))
        order = session.get(Order, receipt.order_id) if receipt and receipt.order_id else None
        if receipt is None or order is None:
            continue
        refund = receipt.kind is ReceiptKind.REFUND
        en, zh = format_fen(receipt.amount_fen, "en"), format_fen(receipt.amount_fen, "zh_CN")
        if refund:
            body = (
                f"{en} was refunded for order {order.number} (receipt {receipt.number}).",
                f"您的订单{order.number}已退款{zh}（收据{receipt.number}）。",
            )
            subject = (f"Refund for order {order.number}", f"订单{order.number}退款")
        else:
            body = (
                f"We received {en} for order {order.number} (receipt {receipt.number}).",
                f"您的订单{order.number}已收到付款{zh}（收据{receipt.number}）。",
            )
            subject = (f"Payment for order {order.number}", f"订单{order.number}付款")
        notices.notify(
            session=session,
            customer_id=order.customer_id,
            kind="money",
            key=f"money:{receipt.number}",
            source="payments",
            body=body,
            subject=subject,
            order_id=order.id,
            order_number=order.number,
            sms_params={"order": order.number, "amount": ("-" if refund else "+") + zh},
        )


def warn_before_lock(*, session: Session, now: datetime | None = None) -> int:
    """Warn every reserved order's buyer once, a day before its configuration locks; how many now."""
    now = now or utcnow()
    key = literal("lock_warning:") + cast(Order.id, String)
    due = session.scalars(
        select(Order)
        .where(
            Order.status == OrderStatus.RESERVED,
            Order.refundable_until > now,
            Order.refundable_until <= now + LOCK_WARNING_BEFORE,
            ~exists().where(Notice.key == key),
        )
        .order_by(Order.refundable_until)
        .limit(LOCK_WARNING_BATCH)
    ).all()
    for order in due:
        assert order.refundable_until is not None
        when = _local(order.refundable_until)
        notices.notify(
            session=session,
            customer_id=order.customer_id,
            kind="lock_warning",
            key=f"lock_warning:{order.id}",
            source="ordering",
            body=(
                f"Order {order.number}: your configuration locks on {when} (Beijing time). Until then"
                " you can change it, or cancel for a full refund of the deposit.",
                f"您的订单{order.number}将于{when}（北京时间）锁定配置。在此之前，您可以修改配置，"
                "或取消订单并全额退还定金。",
            ),
            subject=(f"Order {order.number} locks soon", f"订单{order.number}即将锁定配置"),
            order_id=order.id,
            order_number=order.number,
            sms_params={"order": order.number, "deadline": when},
        )
    return len(due)


def delivery_slot(
    *, session: Session, customer_id: int, appointment_id: int, order_id: int | None, order_number: str,
    starts_at: datetime, place: tuple[str, str],
) -> None:  # fmt: skip
    """Tell the buyer the hand-over time of their car (once per appointment and time)."""
    when = _local(starts_at)
    notices.notify(
        session=session,
        customer_id=customer_id,
        kind="delivery_slot",
        key=f"delivery_slot:{appointment_id}:{as_utc(starts_at):%Y%m%d%H%M}",
        source="appointments",
        body=(
            f"Order {order_number}: your car is handed over on {when} (Beijing time) at {place[0]}.",
            f"您的订单{order_number}将于{when}（北京时间）在{place[1]}交付，请准时到店。",
        ),
        subject=(f"Hand-over time for order {order_number}", f"订单{order_number}交付时间"),
        order_id=order_id,
        order_number=order_number,
        sms_params={"order": order_number, "slot": f"{when} {place[1]}"},
    )


EVENT_HANDLERS: dict[str, list[Handler]] = {receipts.ReceiptsIssued.name: [on_receipts_issued]}

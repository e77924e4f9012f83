"""Support acts for a buyer (the phone line does this all day): refund or cancel an order on their behalf.

The same rules as when the buyer clicks (``ordering.service.refund_deposit`` / ``cancel``): the
policy does not change because staff press the button. A reason is required, the action is audited
with it, and the buyer gets a notice in both languages.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.errors import PermissionDenied, PolicyViolation
from carloop.notices import service as notices
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.payments.providers.base import PaymentProvider

SUPPORT_ROLES = (Role.STORE_STAFF, Role.HQ_OPS, Role.ADMIN)
MIN_REASON = 4


class SupportAction(StrEnum):
    """What support does for the buyer."""

    REFUND = "refund"  # refund a refundable deposit (the order ends as refunded)
    CANCEL = "cancel"  # cancel: unpaid ends, refundable is refunded, locked forfeits (buyer agreed)


def act_for_buyer(
    *,
    session: Session,
    provider: PaymentProvider,
    principal: Principal,
    number: str,
    action: SupportAction,
    reason: str,
    accept_forfeit: bool = False,
    ip: str | None = None,
) -> Order:
    """Refund or cancel an order the staff member may see, for its buyer; audited, buyer notified."""
    if principal.role not in SUPPORT_ROLES:
        raise PermissionDenied("This is for staff.")
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON:
        raise PolicyViolation("Say why you act for the buyer (at least 4 characters).", field="reason")
    order = ordering.get_for(session=session, principal=principal, number=number, for_update=True)
    before = order.status
    if action is SupportAction.REFUND:
        ordering.refund_deposit(session=session, provider=provider, order=order, actor=principal.actor)
    else:
        ordering.cancel(
            session=session,
            provider=provider,
            order=order,
            actor=principal.actor,
            accept_forfeit=accept_forfeit,
        )
    if order.status == before:
        return order  # already ended: nothing happened, nothing to tell
    audit.record(
        session=session,
        principal=principal,
        action=f"order.{action}.on_behalf",
        target_type="order",
        target_id=order.number,
        detail={"reason": reason, "from": str(before), "to": str(order.status)},
        ip=ip,
    )
    zh, en = ("退款", "refunded") if order.status == "refunded" else ("取消", "cancelled")
    notices.notify(
        session=session,
        customer_id=order.customer_id,
        kind="support",
        key=f"network:support:{order.id}:{order.status}",
        source="network",
        subject=(f"Order {order.number} {en} by customer support", f"订单{order.number}已由客服{zh}"),
        body=(f"Reason: {reason}", f"原因：{reason}"),
        order_id=order.id,
        order_number=order.number,
    )
    return order

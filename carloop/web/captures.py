"""The capture-handler registry, wired at the edge: what settles a captured payment, by purpose.

Payments never imports the domains it takes money for; the app (and the notification lane) hands
this mapping to ``payments.captures`` so that a deposit's capture moves its order and a shop
payment's capture settles its shop order, in the same transaction as the capture itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from carloop.loyalty import shop
from carloop.ordering import deposits, locks
from carloop.payments import captures
from carloop.payments.models import PaymentPurpose
from carloop.payments.providers.base import PaymentProvider
from carloop.payments.service import NotificationResult

CAPTURE_HANDLERS: Mapping[PaymentPurpose, captures.CaptureHandler] = {
    PaymentPurpose.DEPOSIT: deposits.on_payments_captured,
    PaymentPurpose.BALANCE: deposits.on_payments_captured,
    PaymentPurpose.SHOP: shop.on_payments_captured,
}
LOCK_FIRST = locks.lock_order_rows  # car orders' rows before their payments' (ordering.locks)


def handle_notification(
    *, session: Session, provider: PaymentProvider, form: Mapping[str, str]
) -> NotificationResult:
    """Verify, apply and settle one notification with every registered handler (scripts and tests)."""
    return captures.handle_notification(
        session=session, provider=provider, form=form, handlers=CAPTURE_HANDLERS
    )

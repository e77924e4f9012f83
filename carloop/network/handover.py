"""Final payment and handover: the balance in several payments through the ledger, then the checklist."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.errors import NotFound, PermissionDenied, PolicyViolation
from carloop.network import service as network
from carloop.network.models import Handover
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.payments import ledger
from carloop.payments import service as payments
from carloop.payments.models import Payment, PaymentPurpose, PaymentStatus
from carloop.payments.providers.base import PaymentProvider

# The balance can be paid once the order is locked and until the car is handed over.
BALANCE_OPEN = frozenset(
    {
        OrderStatus.LOCKED,
        OrderStatus.SCHEDULED,
        OrderStatus.IN_PRODUCTION,
        OrderStatus.BUILT,
        OrderStatus.IN_TRANSIT,
        OrderStatus.AT_DELIVERY_CENTRE,
    }
)


@dataclass(frozen=True, slots=True)
class Balance:
    """What an order costs, what the ledger holds for it, and what is still due."""

    total_fen: int
    held_fen: int

    @property
    def due_fen(self) -> int:
        """What the buyer still owes (never negative)."""
        return max(0, self.total_fen - self.held_fen)

    @property
    def settled(self) -> bool:
        """Whether the ledger holds exactly the price."""
        return self.held_fen == self.total_fen


def balance(*, session: Session, order: Order) -> Balance:
    """The order's balance, from the ledger."""
    return Balance(order.total_fen, ledger.held_for_order(session=session, order_id=order.id))


def _check_amount(session: Session, order: Order, amount_fen: int) -> None:
    if order.status not in BALANCE_OPEN:
        raise PolicyViolation(f"Order {order.number} is {order.status}; no balance payment is taken now.")
    due = balance(session=session, order=order).due_fen
    if amount_fen <= 0 or amount_fen > due:
        raise PolicyViolation(f"Pay between 1 fen and the {due} fen due.", due_fen=due)


def start_balance_payment(
    *,
    session: Session,
    provider: PaymentProvider,
    principal: Principal,
    number: str,
    amount_fen: int,
    base_url: str,
) -> Payment:
    """Start an online payment of part or all of the balance; an earlier unpaid attempt is closed."""
    order = ordering.get_for(session=session, principal=principal, number=number, for_update=True)
    if principal.role is not Role.CUSTOMER:
        raise PermissionDenied("The buyer pays online; staff record store payments.")
    _check_amount(session, order, amount_fen)
    for earlier in payments.payments_for_order(session=session, order_id=order.id):
        if earlier.purpose is PaymentPurpose.BALANCE and earlier.status is PaymentStatus.PENDING:
            payments.close_payment(session=session, payment=earlier)
    return payments.start_payment(
        session=session,
        provider=provider,
        order_id=order.id,
        purpose=PaymentPurpose.BALANCE,
        amount_fen=amount_fen,
        subject=f"Balance {order.number}"[:120],
        return_url=f"{base_url.rstrip('/')}/orders/{order.number}",
        notify_url=f"{base_url.rstrip('/')}/api/v1/payments/notify/{provider.name}",
        customer_id=order.customer_id,
    )


def staff_order(session: Session, principal: Principal, number: str, *, for_update: bool = True) -> Order:
    """An order at the staff member's own delivery centre; any other is not found."""
    if principal.role is not Role.STORE_STAFF or principal.store_id is None:
        raise PermissionDenied("Store staff of the order's delivery centre do this.")
    order = ordering.load(session=session, number=number, for_update=for_update)
    if order.delivery_store_id != principal.store_id:
        raise NotFound(f"No order {number}.")
    return order


def record_store_payment(
    *, session: Session, principal: Principal, number: str, amount_fen: int, reference: str
) -> Payment:
    """Staff of the order's centre record part of the balance paid at the store (audited, in the ledger)."""
    order = staff_order(session, principal, number)
    existing = session.scalar(
        select(Payment).where(
            Payment.order_id == order.id,
            Payment.provider == payments.STORE_PROVIDER,
            Payment.provider_txn_id == reference.strip()[:80],
        )
    )
    if existing is not None:
        return existing  # the same till reference again: already booked
    _check_amount(session, order, amount_fen)
    return payments.record_store_payment(
        session=session, principal=principal, order_id=order.id, amount_fen=amount_fen, reference=reference
    )


def recorded_vin(order: Order) -> str | None:
    """The VIN production recorded for the order (the newest one in its timeline), if any."""
    for event in reversed(order.events):
        vin = (event.data or {}).get("vin")
        if vin:
            return str(vin)
    return None


def hand_over(
    *,
    session: Session,
    principal: Principal,
    number: str,
    vin: str,
    inspection_passed: bool,
    documents_signed: bool,
    provider: PaymentProvider | None = None,
) -> Handover:
    """Hand the car over: balance settled, VIN matches, checklist done; the order becomes delivered.

    If the ledger holds more than the price (a late payment of an abandoned attempt), the surplus is
    refunded first (``payments.refund_surplus``, idempotent), so an over-payment never blocks it."""
    order = staff_order(session, principal, number)
    if order.status is not OrderStatus.AT_DELIVERY_CENTRE:
        raise PolicyViolation(
            f"Order {order.number} is {order.status}; only a car at the centre is handed over."
        )
    money = balance(session=session, order=order)
    if money.held_fen > money.total_fen and provider is not None:
        payments.refund_surplus(
            session=session,
            provider=provider,
            principal=principal,
            order_id=order.id,
            total_fen=order.total_fen,
        )
        money = balance(session=session, order=order)
    if not money.settled:
        raise PolicyViolation(
            f"The balance is not settled: {money.held_fen} of {money.total_fen} fen held.",
            held_fen=money.held_fen,
            total_fen=money.total_fen,
        )
    expected = recorded_vin(order)
    shown = vin.strip().upper()
    if expected is None or shown != expected.upper():
        raise PolicyViolation("The VIN on the car does not match the order's VIN.")
    if not (inspection_passed and documents_signed):
        raise PolicyViolation("Complete the inspection and the documents before the handover.")
    checklist = {"vin_matches": True, "inspection_passed": True, "documents_signed": True}
    handover = Handover(
        order_id=order.id,
        store_id=order.delivery_store_id,
        vin=shown,
        checklist=checklist,
        actor=principal.actor,
    )
    session.add(handover)
    store = network.get_store(session=session, store_id=principal.store_id or 0)
    ordering.advance(
        session=session,
        order=order,
        target=OrderStatus.DELIVERED,
        actor=principal.actor,
        reason=f"handed over at {store.code}",
        vin=shown,
    )
    audit.record(
        session=session,
        principal=principal,
        action="order.handover",
        target_type="order",
        target_id=order.id,
        detail={"number": order.number, "vin": shown, "store": store.code, **checklist},
    )
    session.flush()
    return handover


def record_staff_view(*, session: Session, principal: Principal, order: Order, what: str) -> None:
    """Staff looked at an order's money (``what``: balance, handover); customers' own views are not logged."""
    if principal.role is Role.CUSTOMER:
        return
    audit.record(
        session=session,
        principal=principal,
        action=f"order.{what}.view",
        target_type="order",
        target_id=order.number,
    )

"""The order lifecycle as pure rules: states, transitions, refundability, lock confirmation.

pending_payment --paid--> reserved --lock, or the window ends--> locked --> scheduled
    |   (a numbered edition: paid --> locked)                       |
    v                         |                                     v
cancelled            refunded (deposit back)          cancelled (deposit forfeited)

scheduled --> in_production --> built (VIN) --> in_transit --> at_delivery_centre --> delivered

A numbered edition paid after its units ran out waits: pending_payment --paid--> waitlisted, which
becomes locked when a cancellation hands it a unit, or refunded when the buyer gives up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from carloop.errors import ErrorCode, InvalidTransition, PolicyViolation


class OrderStatus(StrEnum):
    """Where an order stands."""

    PENDING_PAYMENT = "pending_payment"  # created; the deposit is not paid yet
    RESERVED = "reserved"  # deposit paid and refundable until the window ends
    WAITLISTED = "waitlisted"  # deposit paid for a sold-out edition; refundable, waiting for a unit
    LOCKED = "locked"  # configuration frozen, deposit non-refundable, waiting to be built
    SCHEDULED = "scheduled"  # given a build week by the production plan
    IN_PRODUCTION = "in_production"  # on the line
    BUILT = "built"  # off the line, VIN assigned
    IN_TRANSIT = "in_transit"  # on its way to the delivery centre
    AT_DELIVERY_CENTRE = "at_delivery_centre"  # arrived; a handover can be booked
    DELIVERED = "delivered"  # handed over to the owner
    REFUNDED = "refunded"  # ended within the refundable window; the deposit went back
    CANCELLED = "cancelled"  # ended otherwise: unpaid, or locked and the deposit forfeited


ACTIVE_AFTER_LOCK = (
    OrderStatus.LOCKED,
    OrderStatus.SCHEDULED,
    OrderStatus.IN_PRODUCTION,
    OrderStatus.BUILT,
    OrderStatus.IN_TRANSIT,
    OrderStatus.AT_DELIVERY_CENTRE,
)
FINAL = frozenset({OrderStatus.DELIVERED, OrderStatus.REFUNDED, OrderStatus.CANCELLED})

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_PAYMENT: frozenset(
        {OrderStatus.RESERVED, OrderStatus.LOCKED, OrderStatus.WAITLISTED, OrderStatus.CANCELLED}
    ),
    OrderStatus.WAITLISTED: frozenset({OrderStatus.LOCKED, OrderStatus.REFUNDED}),
    OrderStatus.RESERVED: frozenset({OrderStatus.LOCKED, OrderStatus.REFUNDED}),
    OrderStatus.LOCKED: frozenset({OrderStatus.SCHEDULED, OrderStatus.CANCELLED}),
    OrderStatus.SCHEDULED: frozenset({OrderStatus.IN_PRODUCTION, OrderStatus.CANCELLED}),
    OrderStatus.IN_PRODUCTION: frozenset({OrderStatus.BUILT}),
    OrderStatus.BUILT: frozenset({OrderStatus.IN_TRANSIT, OrderStatus.CANCELLED}),
    OrderStatus.IN_TRANSIT: frozenset({OrderStatus.AT_DELIVERY_CENTRE}),
    OrderStatus.AT_DELIVERY_CENTRE: frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELLED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    """Whether the lifecycle allows moving from ``current`` to ``target``."""
    return target in TRANSITIONS[current]


def check_transition(current: OrderStatus, target: OrderStatus) -> None:
    """Raise ``InvalidTransition`` unless the move is allowed."""
    if not can_transition(current, target):
        raise InvalidTransition(
            f"An order that is {current} cannot become {target}.", current=str(current), target=str(target)
        )


WAITLIST_DAYS = 180  # how long a waitlisted deposit waits for a unit (and stays refundable)


def waitlist_until(paid_at: datetime) -> datetime:
    """When the waitlist a deposit joined at ``paid_at`` closes."""
    return paid_at + timedelta(days=WAITLIST_DAYS)


def status_after_deposit(*, lock_at_payment: bool) -> OrderStatus:
    """Paid deposits reserve an order; numbered limited editions lock at once."""
    return OrderStatus.LOCKED if lock_at_payment else OrderStatus.RESERVED


def refundable_until(paid_at: datetime, *, refundable_hours: int, lock_at_payment: bool) -> datetime | None:
    """The end of the refund window for a deposit paid at ``paid_at`` (None: never refundable)."""
    if lock_at_payment or refundable_hours <= 0:
        return None
    return paid_at + timedelta(hours=refundable_hours)


class NotRefundableReason(StrEnum):
    """Why a deposit cannot be refunded now."""

    NOT_PAID = "not_paid"  # nothing has been paid yet
    LOCKED = "locked"  # the order was locked (by the buyer, or when the window ended)
    WINDOW_ENDED = "window_ended"  # the refundable window has passed
    EDITION = "edition"  # numbered limited editions lock at payment
    POLICY = "policy"  # the model's deposit policy has no refund window
    REFUNDED = "refunded"  # it was already refunded
    CANCELLED = "cancelled"  # the order was cancelled
    DELIVERED = "delivered"  # the car was delivered


@dataclass(frozen=True, slots=True)
class DepositFacts:
    """What refundability depends on."""

    status: OrderStatus
    lock_at_payment: bool
    refundable_until: datetime | None


@dataclass(frozen=True, slots=True)
class Refundability:
    """Either refundable until a time, or not refundable for a reason."""

    refundable: bool
    until: datetime | None = None
    reason: NotRefundableReason | None = None


def refundability(facts: DepositFacts, now: datetime) -> Refundability:
    """Whether the deposit can be refunded at ``now``, and until when or why not."""
    status = facts.status
    if status is OrderStatus.PENDING_PAYMENT:
        return Refundability(False, reason=NotRefundableReason.NOT_PAID)
    if status is OrderStatus.REFUNDED:
        return Refundability(False, reason=NotRefundableReason.REFUNDED)
    if status is OrderStatus.CANCELLED:
        return Refundability(False, reason=NotRefundableReason.CANCELLED)
    if status is OrderStatus.DELIVERED:
        return Refundability(False, reason=NotRefundableReason.DELIVERED)
    if status is OrderStatus.WAITLISTED:
        # Nothing was given yet: the buyer may leave the waitlist, whatever the time, until it closes.
        if facts.refundable_until is None:
            return Refundability(False, reason=NotRefundableReason.POLICY)
        return Refundability(True, until=facts.refundable_until)
    if status is not OrderStatus.RESERVED:
        return Refundability(
            False, reason=NotRefundableReason.EDITION if facts.lock_at_payment else NotRefundableReason.LOCKED
        )
    if facts.refundable_until is None:
        return Refundability(False, reason=NotRefundableReason.POLICY)
    if now >= facts.refundable_until:
        return Refundability(False, until=facts.refundable_until, reason=NotRefundableReason.WINDOW_ENDED)
    return Refundability(True, until=facts.refundable_until)


def due_for_auto_lock(facts: DepositFacts, now: datetime) -> bool:
    """A reserved order whose refund window has ended locks itself."""
    return (
        facts.status is OrderStatus.RESERVED
        and facts.refundable_until is not None
        and now >= facts.refundable_until
    )


class CancelMoney(StrEnum):
    """What happens to the buyer's money when an order is cancelled."""

    NONE = "none"  # nothing was paid
    REFUND = "refund"  # everything paid goes back
    FORFEIT = "forfeit"  # the deposit is kept (the order was locked)


@dataclass(frozen=True, slots=True)
class CancelPlan:
    """The end state of a cancellation and what it does with the money."""

    target: OrderStatus
    money: CancelMoney


def plan_cancellation(facts: DepositFacts, now: datetime) -> CancelPlan:
    """How an order ends if its buyer cancels it now."""
    if facts.status is OrderStatus.PENDING_PAYMENT:
        return CancelPlan(OrderStatus.CANCELLED, CancelMoney.NONE)
    if refundability(facts, now).refundable:
        return CancelPlan(OrderStatus.REFUNDED, CancelMoney.REFUND)
    current = OrderStatus.LOCKED if due_for_auto_lock(facts, now) else facts.status
    check_transition(current, OrderStatus.CANCELLED)
    return CancelPlan(OrderStatus.CANCELLED, CancelMoney.FORFEIT)


def forfeit_limit_fen(deposit_fen: int) -> int:
    """The most a cancellation may keep of a buyer's money: the deposit the policy set, never more."""
    return max(0, deposit_fen)


def keep_limit_fen(status: OrderStatus, total_fen: int) -> int | None:
    """The most the books may hold for an order now: nothing once it ended, its price once delivered.

    None while the order is open (a surplus paid before the handover is refunded at the handover).
    """
    if status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        return 0
    if status is OrderStatus.DELIVERED:
        return max(0, total_fen)
    return None


@dataclass(frozen=True, slots=True)
class HeldPayment:
    """A succeeded payment of an order and how much of it is still held (paid less refunded)."""

    payment_id: int
    deposit: bool  # paid as the deposit (only a deposit can be forfeited)
    held_fen: int


@dataclass(frozen=True, slots=True)
class CancelSettlement:
    """What a cancellation does with the money held: keep ``forfeit_fen``, refund the rest per payment."""

    forfeit_fen: int
    refunds: tuple[tuple[int, int], ...]  # (payment id, fen to refund)


def settle_cancellation(
    money: CancelMoney, held: Sequence[HeldPayment], *, deposit_fen: int
) -> CancelSettlement:
    """Split the money held for a cancelled order: a locked one forfeits at most its deposit, taken
    only from deposit payments; every other fen (balance payments, extra deposits) goes back."""
    allowance = forfeit_limit_fen(deposit_fen) if money is CancelMoney.FORFEIT else 0
    forfeit = 0
    refunds: list[tuple[int, int]] = []
    for payment in sorted(held, key=lambda p: (not p.deposit, p.payment_id)):
        keep = min(payment.held_fen, allowance - forfeit) if payment.deposit else 0
        forfeit += keep
        if payment.held_fen > keep:
            refunds.append((payment.payment_id, payment.held_fen - keep))
    return CancelSettlement(forfeit, tuple(refunds))


def unusable_capture_fen(
    status: OrderStatus, *, deposit: bool, amount_fen: int, held_fen: int, total_fen: int
) -> int:
    """How much of a payment just captured the order can no longer use, and so must refund.

    ``held_fen`` is what the books hold for the order with this payment. A deposit is usable only by
    an order waiting for it; a balance payment by an order between lock and handover. A delivered
    order uses only what still makes up its price; an ended order uses nothing.
    """
    if deposit:
        return 0 if status is OrderStatus.PENDING_PAYMENT else amount_fen
    if status in ACTIVE_AFTER_LOCK:
        return 0
    if status is OrderStatus.DELIVERED:
        return min(amount_fen, max(0, held_fen - total_fen))
    return amount_fen


@dataclass(frozen=True, slots=True)
class LockConfirmation:
    """The buyer's explicit confirmation that locking makes the deposit non-refundable."""

    acknowledge_non_refundable: bool
    deposit_fen: int
    configuration: str


def check_lock_confirmation(confirmation: LockConfirmation, *, deposit_fen: int, configuration: str) -> None:
    """Refuse an early lock unless the buyer confirmed the amount, the configuration and the consequence."""
    problems = []
    if not confirmation.acknowledge_non_refundable:
        problems.append("acknowledge_non_refundable must be true")
    if confirmation.deposit_fen != deposit_fen:
        problems.append(f"deposit_fen must repeat the deposit ({deposit_fen})")
    if confirmation.configuration.strip() != configuration.strip():
        problems.append("configuration must repeat the order's configuration summary")
    if problems:
        raise PolicyViolation(
            "Locking makes the deposit non-refundable; confirm it explicitly: " + "; ".join(problems) + ".",
            code=ErrorCode.LOCK_NOT_CONFIRMED,
            problems=problems,
        )


@dataclass(frozen=True, slots=True)
class ChangeConfirmation:
    """The buyer's explicit confirmation of a post-lock change: the new price and configuration repeated."""

    acknowledge_new_price: bool
    total_fen: int
    configuration: str
    latest_delivery: date | None = None  # the end of the window the buyer saw (None: beyond the plan)


def check_change_confirmation(
    confirmation: ChangeConfirmation, *, total_fen: int, configuration: str
) -> None:
    """Refuse a post-lock change unless the buyer repeated the new price and configuration and agreed."""
    if not confirmation.acknowledge_new_price:
        raise PolicyViolation(
            "Confirm that you accept the new price and delivery window.", code=ErrorCode.CHANGE_NOT_CONFIRMED
        )
    if confirmation.total_fen != total_fen or confirmation.configuration.strip() != configuration.strip():
        raise PolicyViolation(
            "The price or configuration changed since you reviewed it; review the change again.",
            code=ErrorCode.CHANGE_NOT_CONFIRMED,
        )


def window_kept(confirmed: date | None, applied: date | None) -> bool:
    """Whether an applied delivery window ends no later than the one the buyer confirmed."""
    if confirmed is None:  # the buyer accepted a car beyond the plan: any planned week is earlier
        return True
    return applied is not None and applied <= confirmed


MAX_DEPOSIT_FEN = 10_000_000  # ¥100,000: a deposit, not a price
MAX_REFUNDABLE_HOURS = 24 * 30


def deposit_problem(*, amount_fen: int, refundable_hours: int, lock_at_payment: bool) -> str | None:
    """Why deposit terms are unacceptable, or None when they are fine."""
    if not 0 < amount_fen <= MAX_DEPOSIT_FEN:
        return "A deposit is more than ¥0 and at most ¥100,000."
    if not 0 <= refundable_hours <= MAX_REFUNDABLE_HOURS:
        return f"The refundable window is 0 to {MAX_REFUNDABLE_HOURS} hours."
    if lock_at_payment and refundable_hours:
        return "An order that locks at payment cannot have a refundable window."
    return None

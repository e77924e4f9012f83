"""Pure money rules: how each movement is booked, and how the books are reconciled."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Account(StrEnum):
    """Ledger accounts; debits are positive, credits negative, every entry sums to zero."""

    PROVIDER_CASH = "provider_cash"  # asset: money held for us at payment providers
    CUSTOMER_PREPAYMENTS = "customer_prepayments"  # liability: buyers' money held against an order
    FORFEITED_DEPOSITS = "forfeited_deposits"  # income: deposits kept when a locked order is cancelled
    SHOP_SALES = "shop_sales"  # income: cash taken for merchandise shop orders (less refunds)
    # Post-lock configuration changes: what buyers owe more (debit) or less (credit) than the price
    # they locked at, against the car sales those changes add or remove. Balanced per order by the
    # books check against the changes' records.
    PRICE_CHANGE_RECEIVABLE = "price_change_receivable"
    PRICE_CHANGE_SALES = "price_change_sales"


@dataclass(frozen=True, slots=True)
class Line:
    """One posting before it is stored: debit positive, credit negative."""

    account: Account
    amount_fen: int
    order_id: int | None = None


def is_balanced(lines: Iterable[Line]) -> bool:
    """Whether the lines of one entry sum to zero."""
    return sum(line.amount_fen for line in lines) == 0


def payment_received(order_id: int | None, amount_fen: int) -> list[Line]:
    """A buyer paid: cash at the provider rises, and so does what we owe the buyer (no order: shop)."""
    _positive(amount_fen)
    return [
        Line(Account.PROVIDER_CASH, amount_fen, order_id),
        Line(Account.CUSTOMER_PREPAYMENTS, -amount_fen, order_id),
    ]


def refund_paid(order_id: int | None, amount_fen: int) -> list[Line]:
    """Money went back to the buyer: both sides of ``payment_received`` shrink."""
    _positive(amount_fen)
    return [
        Line(Account.CUSTOMER_PREPAYMENTS, amount_fen, order_id),
        Line(Account.PROVIDER_CASH, -amount_fen, order_id),
    ]


def deposit_forfeited(order_id: int, amount_fen: int) -> list[Line]:
    """A locked order was cancelled: what we held for the buyer becomes the maker's income."""
    _positive(amount_fen)
    return [
        Line(Account.CUSTOMER_PREPAYMENTS, amount_fen, order_id),
        Line(Account.FORFEITED_DEPOSITS, -amount_fen, order_id),
    ]


def price_changed(order_id: int, difference_fen: int) -> list[Line]:
    """A locked order's configuration changed: the buyer owes ``difference_fen`` more (less if negative)."""
    if difference_fen == 0:
        raise ValueError("a price change of 0 fen books nothing")
    return [
        Line(Account.PRICE_CHANGE_RECEIVABLE, difference_fen, order_id),
        Line(Account.PRICE_CHANGE_SALES, -difference_fen, order_id),
    ]


def _positive(amount_fen: int) -> None:
    if amount_fen <= 0:
        raise ValueError(f"amounts are positive integers of fen, got {amount_fen!r}")


@dataclass(frozen=True, slots=True)
class OrderMoney:
    """What the operational records say about one order's money."""

    paid_fen: int = 0
    refunded_fen: int = 0
    forfeited_fen: int = 0

    @property
    def expected_held_fen(self) -> int:
        """paid - refunded - forfeited: what the ledger must hold for the buyer."""
        return self.paid_fen - self.refunded_fen - self.forfeited_fen


@dataclass(frozen=True, slots=True)
class Mismatch:
    """An order whose ledger balance differs from its payments, refunds and forfeitures."""

    order_id: int
    ledger_held_fen: int
    expected_held_fen: int

    @property
    def difference_fen(self) -> int:
        """Ledger minus expectation."""
        return self.ledger_held_fen - self.expected_held_fen


def reconcile(records: Mapping[int, OrderMoney], ledger_held: Mapping[int, int]) -> list[Mismatch]:
    """Every order where the ledger's held balance is not paid - refunded - forfeited."""
    mismatches = []
    for order_id in sorted(set(records) | set(ledger_held)):
        expected = records.get(order_id, OrderMoney()).expected_held_fen
        held = ledger_held.get(order_id, 0)
        if held != expected:
            mismatches.append(Mismatch(order_id, held, expected))
    return mismatches


@dataclass(frozen=True, slots=True)
class OrderTerms:
    """What an order's policy lets the maker keep, as the ordering domain states it for the books check."""

    number: str
    forfeit_limit_fen: int  # the most a cancellation may forfeit (the deposit)
    keep_limit_fen: int | None  # the most the books may hold now (0 once ended, the price once delivered)


class Breach(StrEnum):
    """Which money rule an order's books break."""

    FORFEIT_OVER_POLICY = "forfeit_over_policy"  # more was forfeited than the deposit policy allows
    KEPT_AFTER_END = "kept_after_end"  # a cancelled or refunded order still holds the buyer's money
    KEPT_OVER_PRICE = "kept_over_price"  # a delivered order holds more than its price


@dataclass(frozen=True, slots=True)
class PolicyBreach:
    """An order whose money breaks its policy: ``amount_fen`` where at most ``limit_fen`` is allowed."""

    order_id: int
    number: str
    what: Breach
    amount_fen: int
    limit_fen: int


def breaches(
    records: Mapping[int, OrderMoney], ledger_held: Mapping[int, int], terms: Mapping[int, OrderTerms]
) -> list[PolicyBreach]:
    """Every order where forfeited > policy, or where what is kept exceeds what its state allows.

    With ``refunded + forfeited + kept = paid`` (``reconcile``), these prove that a buyer lost no more
    than the policy says and that no ended order keeps money it can no longer use.
    """
    found = []
    for order_id in sorted(terms):
        term = terms[order_id]
        money = records.get(order_id, OrderMoney())
        if money.forfeited_fen > term.forfeit_limit_fen:
            found.append(
                PolicyBreach(
                    order_id,
                    term.number,
                    Breach.FORFEIT_OVER_POLICY,
                    money.forfeited_fen,
                    term.forfeit_limit_fen,
                )
            )
        kept = ledger_held.get(order_id, 0)
        if term.keep_limit_fen is not None and kept > term.keep_limit_fen:
            what = Breach.KEPT_AFTER_END if term.keep_limit_fen == 0 else Breach.KEPT_OVER_PRICE
            found.append(PolicyBreach(order_id, term.number, what, kept, term.keep_limit_fen))
    return found


# How many days a refund takes to reach the buyer, by provider: Alipay and WeChat Pay return to the
# balance at once and to a bank card within 1–3 working days (we promise the slower, plus a weekend);
# the simulator "returns" at once. An unknown provider gets a cautious week.
REFUND_ARRIVAL_DAYS = {"alipay": 5, "wechat": 5, "simulator": 0}
REFUND_ARRIVAL_DEFAULT_DAYS = 7


def refund_arrives_by(provider: str, refunded_at: datetime) -> datetime:
    """The latest moment a refund sent through ``provider`` at ``refunded_at`` is expected to arrive."""
    return refunded_at + timedelta(days=REFUND_ARRIVAL_DAYS.get(provider, REFUND_ARRIVAL_DEFAULT_DAYS))

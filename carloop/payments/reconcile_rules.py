"""Pure reconciliation rules: a provider's daily statement against carloop's books, line by line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from carloop.clock import SHANGHAI
from carloop.payments.providers.base import StatementLine

PAYMENT, REFUND = "payment", "refund"
Key = tuple[str, str]  # ("payment", trade_no) or ("refund", refund_no)


class DifferenceKind(StrEnum):
    """How a statement line and carloop's books disagree."""

    MISSING_AT_CARLOOP = "missing_at_carloop"  # the provider took (or returned) money carloop has not booked
    MISSING_AT_PROVIDER = "missing_at_provider"  # carloop booked money the provider's statement lacks
    AMOUNT_MISMATCH = "amount_mismatch"  # both know it, for different amounts
    DUPLICATE = "duplicate"  # the statement lists one payment or refund more than once
    REFUND_FAILED = "refund_failed"  # the provider's refund callback says the money did not reach the buyer


@dataclass(frozen=True, slots=True)
class Booked:
    """What carloop's books say about one payment or refund."""

    kind: str  # PAYMENT or REFUND
    trade_no: str
    refund_no: str
    amount_fen: int
    captured: bool  # a payment succeeded (refunds are booked when made)

    @property
    def key(self) -> Key:
        """The line's identity: the payment's trade number or the refund's number."""
        return (self.kind, self.refund_no if self.kind == REFUND else self.trade_no)


@dataclass(frozen=True, slots=True)
class Difference:
    """One disagreement, with both sides' amounts (None: that side has nothing)."""

    kind: DifferenceKind
    trade_no: str
    refund_no: str = ""
    provider_txn_id: str = ""
    carloop_fen: int | None = None
    provider_fen: int | None = None

    @property
    def lost_callback(self) -> bool:
        """A payment carloop started but never heard was paid: the provider can be asked and it captured."""
        return (
            self.kind is DifferenceKind.MISSING_AT_CARLOOP
            and not self.refund_no
            and self.carloop_fen is not None
        )


def key_of(line: StatementLine) -> Key:
    """A statement line's identity, as ``Booked.key``."""
    return (line.kind, line.refund_no if line.kind == REFUND else line.trade_no)


def day_window(day: date) -> tuple[datetime, datetime]:
    """The statement day's bounds in UTC (a provider's day is a Beijing day)."""
    start = datetime.combine(day, time(0), SHANGHAI)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def compare(
    lines: Sequence[StatementLine], booked: Mapping[Key, Booked], booked_that_day: Iterable[Key]
) -> list[Difference]:
    """Every difference between the statement and the books, in statement order then carloop's.

    ``booked`` holds what carloop knows of every line's payment or refund (and of ``booked_that_day``);
    ``booked_that_day`` are the keys of what carloop booked on the day with this provider.
    """
    found: list[Difference] = []
    groups: dict[Key, list[StatementLine]] = {}
    for line in lines:
        groups.setdefault(key_of(line), []).append(line)
    for key, group in groups.items():
        line, mine = group[0], booked.get(key)
        carloop_fen = mine.amount_fen if mine is not None else None
        if len(group) > 1:
            found.append(
                Difference(
                    DifferenceKind.DUPLICATE,
                    line.trade_no,
                    line.refund_no,
                    ",".join(g.provider_txn_id for g in group)[:80],
                    carloop_fen,
                    sum(g.amount_fen for g in group),
                )
            )
        if mine is None or not mine.captured:
            kind = DifferenceKind.MISSING_AT_CARLOOP
        elif mine.amount_fen != line.amount_fen:
            kind = DifferenceKind.AMOUNT_MISMATCH
        else:
            continue
        found.append(
            Difference(
                kind, line.trade_no, line.refund_no, line.provider_txn_id, carloop_fen, line.amount_fen
            )
        )
    for key in booked_that_day:
        if key not in groups:
            mine = booked[key]
            found.append(
                Difference(
                    DifferenceKind.MISSING_AT_PROVIDER,
                    mine.trade_no,
                    mine.refund_no,
                    "",
                    mine.amount_fen,
                    None,
                )
            )
    return found

"""Pure rules of a sales document: the price of a delivered car broken down, VAT included."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from carloop.receipts.rules import vat_included


@dataclass(frozen=True, slots=True)
class Breakdown:
    """A price in fen: vehicle + options = total (VAT included, ``tax_fen`` of it) = deposit + balance."""

    vehicle_fen: int
    options_fen: int
    total_fen: int
    tax_fen: int
    deposit_fen: int
    balance_fen: int


def breakdown(lines: Sequence[Mapping[str, Any]], total_fen: int, deposit_fen: int) -> Breakdown:
    """Split the quoted price: options are the option lines, the vehicle is the rest (base less incentives).

    The order's total is the price the buyer agreed to, so the vehicle part is derived from it rather
    than from the lines' sum; the deposit counts towards it and the balance is what remained.
    """
    if total_fen < 0 or not 0 <= deposit_fen <= total_fen:
        raise ValueError(f"a price of {total_fen} fen cannot hold a deposit of {deposit_fen} fen")
    options = sum(int(line["amount_fen"]) for line in lines if line.get("kind") == "option")
    options = min(max(options, 0), total_fen)
    return Breakdown(
        vehicle_fen=total_fen - options,
        options_fen=options,
        total_fen=total_fen,
        tax_fen=vat_included(total_fen),
        deposit_fen=deposit_fen,
        balance_fen=total_fen - deposit_fen,
    )

"""Pure rules of numbered documents: their numbers, their year, and the VAT inside a price."""

from __future__ import annotations

from datetime import datetime

from carloop.clock import SHANGHAI, as_utc

RECEIPT_SERIES = "R"  # receipts of captured payments and of refunds
SALES_SERIES = "S"  # sales documents of delivered cars
VAT_PERCENT = 13  # China's VAT on the sale of goods (vehicles included)


def year_of(moment: datetime) -> int:
    """The calendar year, in Asia/Shanghai, a document issued at ``moment`` is numbered in."""
    return as_utc(moment).astimezone(SHANGHAI).year


def document_number(series: str, year: int, seq: int) -> str:
    """``R2026-000042``: the series, the year and the gap-free sequence number within that year."""
    if seq <= 0:
        raise ValueError(f"sequence numbers start at 1, got {seq!r}")
    return f"{series}{year}-{seq:06d}"


def vat_included(gross_fen: int) -> int:
    """The VAT part of a VAT-inclusive price in fen: gross x 13/113, rounded half up to the fen."""
    if gross_fen < 0:
        raise ValueError(f"prices are not negative, got {gross_fen!r}")
    return (gross_fen * VAT_PERCENT * 2 + (100 + VAT_PERCENT)) // (2 * (100 + VAT_PERCENT))

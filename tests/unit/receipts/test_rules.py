"""Document numbers and the VAT inside a price."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.receipts import rules


def test_number_is_series_year_and_six_digit_sequence() -> None:
    assert rules.document_number("R", 2026, 42) == "R2026-000042"
    with pytest.raises(ValueError, match="start at 1"):
        rules.document_number("R", 2026, 0)


def test_year_is_the_shanghai_year() -> None:
    assert rules.year_of(datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC)) == 2026
    assert rules.year_of(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == 2027


def test_vat_of_a_known_price() -> None:
    # ¥229,900.00 including 13% VAT: the tax part is 229,900 x 13/113 = ¥26,448.67
    assert rules.vat_included(22_990_000) == 2_644_867


@given(st.integers(0, 10**12))
def test_vat_is_the_nearest_fen_of_13_113ths(gross_fen: int) -> None:
    tax = rules.vat_included(gross_fen)
    exact = Fraction(gross_fen * 13, 113)
    assert abs(tax - exact) <= Fraction(1, 2)
    net = gross_fen - tax
    assert 0 <= tax <= gross_fen and abs(net * Fraction(13, 100) - tax) <= 1

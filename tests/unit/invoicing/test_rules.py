"""The sales document's price breakdown and the e-invoice stand-in's contract."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.invoicing import rules
from carloop.invoicing.fapiao import InvoiceRequest, StandInProvider
from carloop.receipts.rules import vat_included

LINES = st.lists(
    st.fixed_dictionaries(
        {"kind": st.sampled_from(["base", "option", "incentive"]), "amount_fen": st.integers(-(10**7), 10**8)}
    ),
    max_size=8,
)


@given(lines=LINES, total=st.integers(0, 10**9), share=st.fractions(0, 1))
def test_the_breakdown_adds_up_in_whole_fen(lines: list[dict[str, int]], total: int, share: object) -> None:
    deposit = int(total * share)  # type: ignore[operator]
    money = rules.breakdown(lines, total, deposit)
    assert money.vehicle_fen + money.options_fen == money.total_fen == total
    assert money.deposit_fen + money.balance_fen == total
    assert 0 <= money.options_fen <= total and money.tax_fen == vat_included(total)


def test_a_deposit_above_the_price_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold a deposit"):
        rules.breakdown([], 100, 101)


def test_the_stand_in_gives_the_same_number_for_the_same_request() -> None:
    provider = StandInProvider()
    blue = InvoiceRequest("S2026-000001-B", "S2026-000001", "张伟", "LSJA24U69PS000777", "SU7 Pro", 100, 12)
    first, again = provider.issue(blue), provider.issue(blue)
    assert first == again and first.invoice_no.startswith("SI")
    red = InvoiceRequest(
        "S2026-000001-R-R2026-000002", "S2026-000001", "张伟", "", "", -50, -6, first.invoice_no
    )
    assert provider.reverse(red).invoice_no.startswith("SR")
    with pytest.raises(ValueError, match="positive amount"):
        provider.issue(red)
    with pytest.raises(ValueError, match="negative amount"):
        provider.reverse(blue)

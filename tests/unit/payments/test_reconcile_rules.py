"""The reconciliation rules, proved on generated days: a statement made from the books and then
disturbed (a payment dropped, one listed twice, an amount changed, a lost callback, a stranger)
yields exactly those differences and nothing else."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from carloop.payments.providers.base import StatementLine
from carloop.payments.reconcile_rules import PAYMENT, REFUND, Booked, DifferenceKind, compare, day_window

DISTURBANCES = ("none", "dropped", "doubled", "changed", "lost_callback")


@st.composite
def days(draw: st.DrawFn) -> tuple[list[Booked], list[StatementLine], set[tuple[str, str]]]:
    count = draw(st.integers(min_value=0, max_value=12))
    amounts = draw(st.lists(st.integers(min_value=1, max_value=10**9), min_size=count, max_size=count))
    fates = draw(st.lists(st.sampled_from(DISTURBANCES), min_size=count, max_size=count))
    refunded = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    booked: list[Booked] = []
    lines: list[StatementLine] = []
    expected: set[tuple[str, str]] = set()
    for i, (fen, fate, refund) in enumerate(zip(amounts, fates, refunded, strict=True)):
        trade = f"P{i:04d}"
        booked.append(Booked(PAYMENT, trade, "", fen, captured=fate != "lost_callback"))
        line = StatementLine(PAYMENT, trade, f"T{i}", fen + 1 if fate == "changed" else fen)
        if fate != "dropped":
            lines.append(line)
        if fate == "doubled":
            lines.append(StatementLine(PAYMENT, trade, f"T{i}b", fen))
        expected |= {
            "dropped": {("missing_at_provider", trade)},
            "doubled": {("duplicate", trade)},
            "changed": {("amount_mismatch", trade)},
            "lost_callback": {("missing_at_carloop", trade)},
            "none": set(),
        }[fate]
        if refund and fate == "none":
            booked.append(Booked(REFUND, trade, f"R{i}", fen, True))
            lines.append(StatementLine(REFUND, trade, f"T{i}", fen, f"R{i}"))
    if draw(st.booleans()):  # money the provider took for a trade carloop never started
        lines.append(StatementLine(PAYMENT, "P-UNKNOWN", "TX", 100))
        expected.add(("missing_at_carloop", "P-UNKNOWN"))
    return booked, draw(st.permutations(lines)), expected


@given(days())
def test_compare_finds_exactly_the_disturbances(
    day: tuple[list[Booked], list[StatementLine], set[tuple[str, str]]],
) -> None:
    booked, lines, expected = day
    by_key = {b.key: b for b in booked}
    that_day = [b.key for b in booked if b.captured]
    found = compare(lines, by_key, that_day)
    assert {(str(d.kind), d.trade_no) for d in found} == expected
    assert len(found) == len(expected)  # each once
    for d in found:
        if d.kind is DifferenceKind.MISSING_AT_CARLOOP:
            assert d.lost_callback is (d.trade_no != "P-UNKNOWN")  # only a started payment can be captured


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_a_statement_day_is_one_beijing_day(day: date) -> None:
    start, end = day_window(day)
    assert (end - start).total_seconds() == 86_400 and start.hour == 16  # 00:00 in Shanghai (UTC+8)

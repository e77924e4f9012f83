"""For any configuration, ``price`` returns a quote that obeys every rule, or names at least one problem.

The rules are checked here by a second, deliberately plain reading of the catalog, so that a bug in
the fast path cannot hide behind itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from carloop.catalog import service
from carloop.catalog.rules import Catalog, price
from carloop.catalog.schemas import ConfigurationIn, GroupMode, Quote
from carloop.errors import InvalidConfiguration

from .builders import catalog as build_catalog

CATALOGS = [build_catalog(), *(service.get_catalog(v) for v in service.list_versions())]
JUNK = ["", "ghost", "paint", "PAINT-WHITE", "wheel-99"]
MOMENTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@st.composite
def attempts(draw: st.DrawFn) -> tuple[Catalog, ConfigurationIn, datetime]:
    """A catalog, a configuration of random (often conflicting, sometimes unknown) codes, and a moment."""
    catalog = draw(st.sampled_from(CATALOGS))
    model_code = draw(st.sampled_from([*catalog.models, "ghost"]))
    model = catalog.models.get(model_code)
    trims = list(model.trims) if model else ["standard"]
    options = list(model.options) if model else ["paint-white"]
    trim = draw(st.sampled_from([*trims, *trims, "ghost"]))
    if model is not None and trim in model.trims and draw(st.booleans()):
        # A plausible buyer: at most one offered option per group, a few from "any" groups.
        offered = model.trims[trim].available
        picked = []
        for group in model.groups.values():
            members = [code for code in group.options if code in offered]
            size = 4 if group.mode is GroupMode.ANY else 1
            if members:
                picked += draw(st.lists(st.sampled_from(members), max_size=size, unique=True))
    else:
        picked = draw(st.lists(st.sampled_from(options + JUNK[1:]), max_size=12))
    config = ConfigurationIn(model=model_code, trim=trim, options=picked)
    return catalog, config, draw(MOMENTS)


def _assert_obeys_every_rule(catalog: Catalog, config: ConfigurationIn, quote: Quote) -> None:
    model = catalog.models[config.model]
    trim = model.trims[config.trim]
    chosen = set(quote.options)
    assert quote.options == sorted(chosen), "options are sorted and unique"
    assert set(config.options) <= chosen, "every option the buyer chose is in the quote"
    assert trim.included <= chosen or any(
        model.groups[model.options[c].group].mode is not GroupMode.ANY for c in trim.included - chosen
    ), "included options of 'any' groups are always in"
    for code in chosen:
        option = model.options[code]
        assert option.trims is None or trim.code in option.trims, f"{code} is offered on {trim.code}"
        if option.requires:
            assert option.requires & chosen, f"{code} has one of {sorted(option.requires)}"
        assert not option.excludes & chosen, f"{code} excludes {sorted(option.excludes & chosen)}"
    for group in model.groups.values():
        count = sum(1 for code in chosen if model.options[code].group == group.code)
        if group.mode is GroupMode.EXACTLY_ONE:
            assert count == 1, f"group {group.code} holds exactly one"
        elif group.mode is GroupMode.AT_MOST_ONE:
            assert count <= 1, f"group {group.code} holds at most one"
    assert quote.total_fen == sum(line.amount_fen for line in quote.lines)
    assert quote.lines[0].kind == "base" and quote.lines[0].amount_fen == trim.price_fen
    option_lines = {line.code: line for line in quote.lines if line.kind == "option"}
    assert set(option_lines) == chosen
    for code, line in option_lines.items():
        expected = 0 if code in trim.included else model.options[code].price_fen
        assert line.amount_fen == expected and line.included is (code in trim.included)
    assert all(line.amount_fen < 0 for line in quote.lines if line.kind == "incentive")
    assert quote.total_fen > 0
    assert quote.deposit == trim.deposit
    assert quote.edition == (trim.edition.code if trim.edition else None)


@settings(max_examples=500, deadline=None)
@given(attempts())
def test_price_returns_a_rule_abiding_quote_or_names_a_problem(
    attempt: tuple[Catalog, ConfigurationIn, datetime],
) -> None:
    catalog, config, at = attempt
    problems: list[dict[str, Any]] = []
    try:
        quote = price(catalog, config, at=at)
    except InvalidConfiguration as err:
        problems = err.problems
    if problems:
        event("invalid configuration")
        for problem in problems:
            assert {"code", "options", "message", "message_zh"} <= problem.keys()
            assert problem["message"] and problem["message_zh"]
            known = catalog.models[config.model].options if config.model in catalog.models else {}
            for code in problem["options"]:
                option = known.get(code)
                named = (
                    (f"“{option.name_en}”", f"“{option.name_zh}”") if option else (f"'{code}'", f"“{code}”")
                )
                assert named[0] in problem["message"], "the message names the options involved"
                assert named[1] in problem["message_zh"], "so does the Chinese one"
        return
    assert config.model in catalog.models, "an unknown model is never priced"
    event("priced")
    _assert_obeys_every_rule(catalog, config, quote)


@settings(max_examples=200, deadline=None)
@given(attempts())
def test_a_quotes_own_options_price_to_the_same_quote(
    attempt: tuple[Catalog, ConfigurationIn, datetime],
) -> None:
    catalog, config, at = attempt
    try:
        quote = price(catalog, config, at=at)
    except InvalidConfiguration:
        return
    again = price(catalog, config.model_copy(update={"options": quote.options}), at=at)
    assert again == quote

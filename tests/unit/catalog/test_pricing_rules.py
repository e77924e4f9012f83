"""Pricing a configuration: every rule kind, the itemised breakdown, incentives and the problems raised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carloop.catalog.rules import ProblemCode, active_incentives, price, selection
from carloop.errors import InvalidConfiguration

from .builders import NOON, catalog, config

CAT = catalog()
BEFORE_OFFERS = datetime(2025, 1, 10, tzinfo=UTC)


def _problems(cfg: object, at: datetime = NOON) -> list[dict[str, object]]:
    with pytest.raises(InvalidConfiguration) as caught:
        price(CAT, cfg, at=at)  # type: ignore[arg-type]
    assert caught.value.problems, "an invalid configuration names at least one problem"
    return caught.value.problems


def _codes(problems: list[dict[str, object]]) -> list[str]:
    return [str(p["code"]) for p in problems]


# -- defaults, inclusions and groups


def test_group_defaults_fill_groups_the_buyer_left_empty() -> None:
    quote = price(CAT, config("base"), at=BEFORE_OFFERS)
    assert quote.options == ["paint-white", "seat-cloth", "wheel-18"]
    assert quote.total_fen == 200_000_00


def test_a_trims_defaults_override_the_group_default() -> None:
    quote = price(CAT, config("sport"), at=BEFORE_OFFERS)
    assert "paint-red" in quote.options and "paint-white" not in quote.options


def test_options_included_with_the_trim_cost_nothing_and_are_marked_included() -> None:
    quote = price(CAT, config("sport"), at=BEFORE_OFFERS)
    lines = {line.code: line for line in quote.lines}
    assert lines["pack-tech"].amount_fen == 0 and lines["pack-tech"].included
    assert lines["wheel-20"].amount_fen == 0 and lines["wheel-20"].included
    assert not lines["paint-red"].included and lines["paint-red"].amount_fen == 3000_00


def test_an_included_option_in_a_one_choice_group_can_be_replaced_by_another() -> None:
    quote = price(CAT, config("sport", "wheel-21", "pack-sport"), at=BEFORE_OFFERS)
    assert "wheel-21" in quote.options and "wheel-20" not in quote.options
    assert {line.code: line.amount_fen for line in quote.lines}["wheel-21"] == 9000_00


def test_choosing_an_included_option_again_still_costs_nothing() -> None:
    quote = price(CAT, config("sport", "pack-tech", "wheel-20"), at=BEFORE_OFFERS)
    assert quote.total_fen == 250_000_00 + 3000_00  # the sport trim's red paint default costs extra


def test_two_options_in_an_exactly_one_group_are_rejected_naming_both() -> None:
    problems = _problems(config("base", "paint-white", "paint-red"))
    assert _codes(problems) == [ProblemCode.TOO_MANY_IN_GROUP]
    assert problems[0]["options"] == ["paint-white", "paint-red"]
    message = str(problems[0]["message"])
    assert "“White”" in message and "“Red”" in message and "'paint-white'" not in message
    assert "both in “Paint” (pick exactly one)" in message


def test_three_options_in_one_group_are_all_named() -> None:
    problems = _problems(config("base", "paint-white", "paint-red", "paint-blue"))
    assert "are all in “Paint”" in str(problems[0]["message"])
    assert problems[0]["options"] == ["paint-white", "paint-red", "paint-blue"]


def test_an_exactly_one_group_without_default_must_be_chosen() -> None:
    problems = _problems(config("base", seat=None))
    assert _codes(problems) == [ProblemCode.GROUP_EMPTY]
    assert problems[0]["group"] == "seats"
    assert "“Seats” needs exactly one choice" in str(problems[0]["message"])


def test_an_at_most_one_group_may_stay_empty_or_hold_one() -> None:
    assert not any(c.startswith("caliper") for c in price(CAT, config("base"), at=NOON).options)
    assert "caliper-red" in price(CAT, config("base", "caliper-red"), at=NOON).options


def test_an_at_most_one_group_refuses_two() -> None:
    problems = _problems(config("base", "caliper-red", "caliper-gold"))
    assert _codes(problems) == [ProblemCode.TOO_MANY_IN_GROUP]
    assert "(pick at most one)" in str(problems[0]["message"])


def test_an_any_group_takes_several_options() -> None:
    quote = price(CAT, config("base", "pack-tech", "pack-sport", "pack-tow"), at=BEFORE_OFFERS)
    assert {"pack-tech", "pack-sport", "pack-tow"} <= set(quote.options)
    assert quote.total_fen == (200_000 + 8000 + 5000 + 3000) * 100


# -- trims, requires, excludes


def test_an_option_is_refused_on_a_trim_that_does_not_offer_it() -> None:
    problems = _problems(config("sport", "wheel-18"))
    assert _codes(problems) == [ProblemCode.NOT_ON_TRIM]
    assert problems[0]["options"] == ["wheel-18"]
    assert str(problems[0]["message"]) == "Option “18-inch wheels” is not available on the Car Sport."


def test_requires_is_met_by_any_one_of_its_options() -> None:
    assert "wheel-21" in price(CAT, config("base", "wheel-21", "pack-sport"), at=NOON).options
    assert "wheel-21" in price(CAT, config("base", "wheel-21", "pack-track"), at=NOON).options


def test_requires_names_the_option_and_every_alternative() -> None:
    problems = _problems(config("base", "wheel-21"))
    assert _codes(problems) == [ProblemCode.REQUIRES_MISSING]
    assert problems[0]["options"] == ["wheel-21", "pack-sport", "pack-track"]
    assert problems[0]["requires"] == ["pack-sport", "pack-track"]
    message = str(problems[0]["message"])
    assert message.startswith("Option “21-inch” requires one of: “Sport pack”, “")


def test_excluded_options_cannot_be_combined_and_are_reported_once() -> None:
    problems = _problems(config("base", "pack-track", "pack-tow"))
    assert _codes(problems) == [ProblemCode.EXCLUDED_PAIR]
    assert sorted(problems[0]["options"]) == ["pack-tow", "pack-track"]  # type: ignore[type-var]
    assert "cannot be combined" in str(problems[0]["message"])


def test_excludes_works_from_either_side() -> None:
    option = CAT.models["car"].options["pack-track"]
    assert "pack-tow" in option.excludes  # declared only on pack-tow


# -- unknown codes and several problems at once


def test_an_unknown_model_is_named() -> None:
    problems = _problems(config(model="roadster"))
    assert _codes(problems) == [ProblemCode.UNKNOWN_MODEL]
    assert "'roadster'" in str(problems[0]["message"])


def test_an_unknown_trim_is_named_with_unknown_options() -> None:
    problems = _problems(config("turbo", "paint-white", "sunroof"))
    assert _codes(problems) == [ProblemCode.UNKNOWN_TRIM, ProblemCode.UNKNOWN_OPTION]
    assert "'turbo'" in str(problems[0]["message"]) and problems[1]["options"] == ["sunroof"]


def test_every_problem_is_reported_at_once_and_the_error_message_names_them_all() -> None:
    with pytest.raises(InvalidConfiguration) as caught:
        price(
            CAT,
            config("sport", "sunroof", "wheel-18", "paint-red", "paint-blue", "pack-tow", "pack-track"),
            at=NOON,
        )
    assert _codes(caught.value.problems) == [
        ProblemCode.UNKNOWN_OPTION,
        ProblemCode.NOT_ON_TRIM,
        ProblemCode.TOO_MANY_IN_GROUP,
        ProblemCode.EXCLUDED_PAIR,
    ]
    assert "'sunroof'" in caught.value.message  # an unknown option can only be named by its code
    options = CAT.models["car"].options
    for code in ("wheel-18", "paint-red", "paint-blue", "pack-tow", "pack-track"):
        assert f"“{options[code].name_en}”" in caught.value.message  # products by name, not code
        assert f"'{code}'" not in caught.value.message


def test_every_problem_carries_a_chinese_message() -> None:
    problems = _problems(
        config("sport", "sunroof", "wheel-18", "paint-red", "paint-blue", "pack-tow", "pack-track")
    )
    for problem in problems:
        assert problem["message_zh"] and problem["message_zh"] != problem["message"]
    assert "运动版" in str(problems[1]["message_zh"])


def test_a_repeated_option_counts_once() -> None:
    quote = price(CAT, config("base", "pack-tech", "pack-tech"), at=BEFORE_OFFERS)
    assert quote.options.count("pack-tech") == 1
    assert quote.total_fen == 208_000_00


# -- the breakdown, incentives, deposit, edition, summary


def test_the_total_is_the_sum_of_the_lines_with_the_base_price_first() -> None:
    quote = price(CAT, config("sport", "seat-leather", "caliper-gold", "pack-sport"), at=NOON)
    assert quote.lines[0].kind == "base" and quote.lines[0].amount_fen == 250_000_00
    assert quote.total_fen == sum(line.amount_fen for line in quote.lines)


def test_an_incentive_applies_only_inside_its_window() -> None:
    start, end = datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)
    just = timedelta(microseconds=1)
    for moment, expected in ((start - just, False), (start, True), (end - just, True), (end, False)):
        quote = price(CAT, config("sport"), at=moment)
        assert ("sport-bonus" in {line.code for line in quote.lines}) is expected, moment


def test_an_incentive_line_is_negative_and_restricted_to_its_trims() -> None:
    sport = price(CAT, config("sport"), at=NOON)
    assert {line.code: line.amount_fen for line in sport.lines}["sport-bonus"] == -2000_00
    assert "sport-bonus" not in {line.code for line in price(CAT, config("base"), at=NOON).lines}


def test_an_option_incentive_takes_off_what_the_option_costs_and_no_more() -> None:
    paid = price(CAT, config("base", "wheel-20"), at=NOON)
    lines = {line.code: line.amount_fen for line in paid.lines}
    assert lines["wheel-20"] == 4000_00 and lines["free-wheels"] == -4000_00
    assert paid.total_fen == 200_000_00


def test_an_option_incentive_does_not_apply_when_the_trim_includes_the_option() -> None:
    launch = price(CAT, config("launch"), at=NOON)
    assert "free-wheels" not in {line.code for line in launch.lines}


def test_active_incentives_lists_what_runs_at_a_moment() -> None:
    model = CAT.models["car"]
    assert [i.code for i in active_incentives(model, at=NOON)] == ["free-wheels", "sport-bonus"]
    assert active_incentives(model, at=BEFORE_OFFERS) == []


def test_a_naive_moment_is_taken_as_utc() -> None:
    assert price(CAT, config("sport"), at=NOON.replace(tzinfo=None)) == price(CAT, config("sport"), at=NOON)


def test_the_quote_carries_the_model_deposit_policy() -> None:
    deposit = price(CAT, config("base"), at=NOON).deposit
    assert (deposit.amount_fen, deposit.refundable_hours, deposit.auto_lock, deposit.lock_at_payment) == (
        5000_00,
        168,
        True,
        False,
    )


def test_a_limited_edition_trim_carries_its_edition_and_locks_at_payment() -> None:
    quote = price(CAT, config("launch"), at=NOON)
    assert quote.edition == "car-launch"
    assert quote.deposit.lock_at_payment and quote.deposit.refundable_hours == 0
    assert quote.deposit.amount_fen == 5000_00  # the rest of the model's policy is kept
    assert price(CAT, config("base"), at=NOON).edition is None
    assert CAT.editions["car-launch"].units == 500


def test_the_summary_is_one_line_in_each_language() -> None:
    quote = price(CAT, config("base", "paint-red", "pack-tech"), at=BEFORE_OFFERS)
    assert quote.summary_en.startswith("Car · Red, 18-inch wheels, Cloth, Tech pack · ")
    assert quote.summary_en.endswith("211,000.00")
    assert quote.summary_zh.startswith("标准版 · 红、18 英寸轮毂、织物、科技包 · ")
    assert "\n" not in quote.summary_en + quote.summary_zh


def test_the_quote_names_its_catalog_version() -> None:
    assert price(CAT, config("base"), at=NOON).catalog_version == "2025.01"


def test_selection_fills_and_includes_without_validating() -> None:
    model = CAT.models["car"]
    picked = selection(model, model.trims["sport"], ["paint-white", "paint-blue", "wheel-18", "nonsense"])
    assert picked == {"paint-white", "paint-blue", "wheel-20", "pack-tech"}

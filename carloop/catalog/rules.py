"""Pricing and validating a configuration against a compiled catalog (pure: no I/O, no clock).

The rules: a one-choice group ("exactly-one", "at-most-one") holds at most one option, and an
"exactly-one" group always holds one (its default, or the trim's included or default option, fills
it when the buyer chose none there); an option is offered only on its ``trims``; ``requires`` needs
any one of its options; ``excludes`` forbids the pair; a trim's included options cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from carloop.catalog.compiled import (
    CarModel,
    Catalog,
    Edition,
    Group,
    Incentive,
    Option,
    Trim,
)
from carloop.catalog.loader import compile_catalog, version_key
from carloop.catalog.schemas import ConfigurationIn, GroupMode, PriceLine, Quote
from carloop.clock import as_utc
from carloop.errors import InvalidConfiguration
from carloop.money import format_fen

__all__ = [
    "CarModel",
    "Catalog",
    "Edition",
    "Group",
    "Incentive",
    "Option",
    "ProblemCode",
    "Trim",
    "active_incentives",
    "compile_catalog",
    "price",
    "selection",
    "version_key",
]


class ProblemCode(StrEnum):
    """Why a configuration is invalid; one code per broken rule."""

    UNKNOWN_MODEL = "unknown-model"  # no model with that code in this catalog version
    UNKNOWN_TRIM = "unknown-trim"  # the model has no trim with that code
    UNKNOWN_OPTION = "unknown-option"  # the model has no option with that code
    NOT_ON_TRIM = "option-not-on-trim"  # the option exists but the chosen trim does not offer it
    TOO_MANY_IN_GROUP = "too-many-in-group"  # two or more options of a one-choice group
    GROUP_EMPTY = "group-empty"  # an exactly-one group without a default, and nothing chosen
    REQUIRES_MISSING = "requires-missing"  # an option needs one of some options, none is present
    EXCLUDED_PAIR = "excluded-pair"  # two options that cannot be combined


def price(catalog: Catalog, config: ConfigurationIn, *, at: datetime) -> Quote:
    """Price a configuration at the moment ``at``, or raise ``InvalidConfiguration`` naming each conflict."""
    model = catalog.models.get(config.model)
    if model is None:
        raise _invalid([_unknown_model(config.model)])
    trim = model.trims.get(config.trim)
    problems: list[dict[str, Any]] = []
    if trim is None:
        problems.append(_unknown_trim(model, config.trim))
    chosen: dict[str, None] = {}  # an ordered set: the buyer's known options offered on the trim
    for code in config.options:
        if code in chosen:
            continue
        option = model.options.get(code)
        if option is None:
            problems.append(_unknown_option(model, code))
        elif trim is not None and code not in trim.available:
            problems.append(_not_on_trim(trim, option))
        else:
            chosen[code] = None
    if trim is None:
        raise _invalid(problems)
    resolved, group_problems = _resolve(model, trim, chosen)
    problems += group_problems
    ordered = sorted(resolved, key=model.position.__getitem__)
    problems += _rule_problems(model, ordered, resolved)
    if problems:
        raise _invalid(problems)
    lines = [trim.base_line, *(trim.option_lines[code] for code in ordered)]
    lines += _incentive_lines(model, trim, resolved, as_utc(at))
    total = sum(line.amount_fen for line in lines)
    return Quote(
        catalog_version=catalog.version,
        model=model.code,
        trim=trim.code,
        options=sorted(resolved),
        lines=lines,
        total_fen=total,
        deposit=trim.deposit,
        edition=trim.edition.code if trim.edition else None,
        summary_en=_summary(trim, ordered, model, total, "en"),
        summary_zh=_summary(trim, ordered, model, total, "zh_CN"),
    )


def active_incentives(model: CarModel, *, at: datetime) -> list[Incentive]:
    """The model's incentives that run at the moment ``at``."""
    moment = as_utc(at)
    return [incentive for incentive in model.incentives if incentive.is_valid_at(moment)]


def selection(model: CarModel, trim: Trim, options: Iterable[str]) -> frozenset[str]:
    """The options a configuration would hold (known choices, fills, inclusions), without validating it."""
    chosen = dict.fromkeys(code for code in options if code in trim.available)
    resolved, _ = _resolve(model, trim, chosen)
    return frozenset(resolved)


def _resolve(model: CarModel, trim: Trim, chosen: dict[str, None]) -> tuple[set[str], list[dict[str, Any]]]:
    """The buyer's choices plus the trim's inclusions and the fills of untouched one-choice groups."""
    resolved = set(chosen) | trim.always
    problems: list[dict[str, Any]] = []
    picked: dict[str, list[str]] = {}
    for code in chosen:
        picked.setdefault(model.options[code].group, []).append(code)
    for group in model.single_groups:
        in_group = picked.get(group.code)
        if in_group is None:
            fill = trim.defaults.get(group.code)
            if fill is not None:
                resolved.add(fill)
            elif group.mode is GroupMode.EXACTLY_ONE:
                problems.append(_group_empty(group))
        elif len(in_group) > 1:
            problems.append(_too_many(model, group, in_group))
    return resolved, problems


def _rule_problems(model: CarModel, ordered: list[str], resolved: set[str]) -> list[dict[str, Any]]:
    problems = []
    for code in ordered:
        option = model.options[code]
        if option.requires and option.requires.isdisjoint(resolved):
            problems.append(_requires_missing(model, option))
        for other in option.excludes:
            if other in resolved and model.position[code] < model.position[other]:
                problems.append(_excluded(option, model.options[other]))
    return problems


def _incentive_lines(model: CarModel, trim: Trim, resolved: set[str], at: datetime) -> list[PriceLine]:
    lines = []
    for incentive in model.incentives:
        if not incentive.is_valid_at(at):
            continue
        if incentive.trims is not None and trim.code not in incentive.trims:
            continue
        if incentive.options is None:
            lines.append(incentive.line)
            continue
        paid = sum(trim.option_lines[c].amount_fen for c in incentive.options & resolved)
        reduction = min(incentive.amount_fen, paid)
        if reduction == incentive.amount_fen:
            lines.append(incentive.line)
        elif reduction > 0:
            lines.append(incentive.line.model_copy(update={"amount_fen": -reduction}))
    return lines


@lru_cache(maxsize=8192)
def _money(fen: int, locale: str) -> str:
    return format_fen(fen, locale)


def _summary(trim: Trim, ordered: list[str], model: CarModel, total: int, locale: str) -> str:
    """``SU7 Max · Aqua Blue, 20-inch sport wheels, … · ¥299,900.00`` (the trim's own inclusions left out)."""
    zh = locale == "zh_CN"
    options = (model.options[c] for c in ordered if c not in trim.always)
    names = [option.name_zh if zh else option.name_en for option in options]
    head = trim.name_zh if zh else trim.name_en
    return f"{head} · {('、' if zh else ', ').join(names)} · {_money(total, locale)}"


# -- problems: each names the options involved, in English (`message`) and Chinese (`message_zh`)


def _invalid(problems: list[dict[str, Any]]) -> InvalidConfiguration:
    return InvalidConfiguration(" ".join(p["message"] for p in problems), problems=problems)


def _problem(code: ProblemCode, options: list[str], en: str, zh: str, **extra: Any) -> dict[str, Any]:
    return {"code": code.value, "options": options, "message": en, "message_zh": zh, **extra}


def _en(option: Option) -> str:
    return f"“{option.name_en}”"


def _zh(option: Option) -> str:
    return f"“{option.name_zh}”"


def _join(parts: list[str], last: str, sep: str = ", ") -> str:
    return parts[0] if len(parts) == 1 else f"{sep.join(parts[:-1])}{last}{parts[-1]}"


def _unknown_model(code: str) -> dict[str, Any]:
    en, zh = f"Unknown model '{code}'.", f"没有车型“{code}”。"
    return _problem(ProblemCode.UNKNOWN_MODEL, [], en, zh, model=code)


def _unknown_trim(model: CarModel, code: str) -> dict[str, Any]:
    return _problem(
        ProblemCode.UNKNOWN_TRIM,
        [],
        f"Model '{model.code}' has no trim '{code}'.",
        f"车型“{model.code}”没有版本“{code}”。",
        trim=code,
    )


def _unknown_option(model: CarModel, code: str) -> dict[str, Any]:
    return _problem(
        ProblemCode.UNKNOWN_OPTION,
        [code],
        f"Model '{model.code}' has no option '{code}'.",
        f"车型“{model.code}”没有选装项“{code}”。",
    )


def _not_on_trim(trim: Trim, option: Option) -> dict[str, Any]:
    return _problem(
        ProblemCode.NOT_ON_TRIM,
        [option.code],
        f"Option {_en(option)} is not available on the {trim.name_en}.",
        f"选装项{_zh(option)}不适用于{trim.name_zh}。",
        trim=trim.code,
    )


def _too_many(model: CarModel, group: Group, codes: list[str]) -> dict[str, Any]:
    options = [model.options[c] for c in codes]
    both = "both" if len(codes) == 2 else "all"
    rule_en = "pick exactly one" if group.mode is GroupMode.EXACTLY_ONE else "pick at most one"
    rule_zh = "只能选一项" if group.mode is GroupMode.EXACTLY_ONE else "最多选一项"
    return _problem(
        ProblemCode.TOO_MANY_IN_GROUP,
        codes,
        f"{_join([_en(o) for o in options], ' and ')} are {both} in “{group.name_en}” ({rule_en}).",
        f"{_join([_zh(o) for o in options], '和', '、')}同属“{group.name_zh}”，{rule_zh}。",
        group=group.code,
    )


def _group_empty(group: Group) -> dict[str, Any]:
    return _problem(
        ProblemCode.GROUP_EMPTY,
        [],
        f"“{group.name_en}” needs exactly one choice; none was chosen.",
        f"“{group.name_zh}”必须选择一项。",
        group=group.code,
    )


def _requires_missing(model: CarModel, option: Option) -> dict[str, Any]:
    needed = sorted(option.requires, key=model.position.__getitem__)
    return _problem(
        ProblemCode.REQUIRES_MISSING,
        [option.code, *needed],
        f"Option {_en(option)} requires one of: {', '.join(_en(model.options[c]) for c in needed)}.",
        f"选装项{_zh(option)}需要以下之一：{'、'.join(_zh(model.options[c]) for c in needed)}。",
        requires=needed,
    )


def _excluded(first: Option, second: Option) -> dict[str, Any]:
    return _problem(
        ProblemCode.EXCLUDED_PAIR,
        [first.code, second.code],
        f"Options {_en(first)} and {_en(second)} cannot be combined.",
        f"选装项{_zh(first)}与{_zh(second)}不能同时选择。",
    )

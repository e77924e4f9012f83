"""Compiling a version file: a broken one is refused naming the place; a good one becomes frozen lookups."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import pytest

from carloop.catalog.rules import compile_catalog, version_key

from .builders import catalog, raw


def _car(tables: dict[str, Any]) -> dict[str, Any]:
    car: dict[str, Any] = tables["models"]["car"]
    return car


def _option(tables: dict[str, Any], code: str) -> dict[str, Any]:
    return next(o for o in _car(tables)["options"] if o["code"] == code)


def _trim(tables: dict[str, Any], code: str) -> dict[str, Any]:
    return next(t for t in _car(tables)["trims"] if t["code"] == code)


BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown key": (lambda t: _option(t, "paint-red").update(colour="red"), "unknown keys ['colour']"),
    "missing key": (lambda t: _option(t, "paint-red").pop("price_yuan"), "missing ['price_yuan']"),
    "unknown group": (lambda t: _option(t, "paint-red").update(group="roof"), "unknown group 'roof'"),
    "rule names unknown option": (
        lambda t: _option(t, "pack-tow").update(excludes=["pack-ghost"]),
        "unknown option 'pack-ghost'",
    ),
    "option names itself": (lambda t: _option(t, "pack-tow").update(requires=["pack-tow"]), "names itself"),
    "bad mode": (lambda t: _car(t)["groups"][0].update(mode="some"), "mode must be one of"),
    "default outside group": (
        lambda t: _car(t)["groups"][0].update(default="wheel-20"),
        "default 'wheel-20' is not in the group",
    ),
    "default not offered on a trim": (
        lambda t: _car(t)["groups"][1].update(default="wheel-18") or _trim(t, "launch").pop("included"),
        "'wheels' default 'wheel-18' is not offered here",
    ),
    "trim includes what it does not offer": (
        lambda t: _trim(t, "sport").update(included=["wheel-18"]),
        "includes options it does not offer",
    ),
    "two inclusions in a one-choice group": (
        lambda t: _trim(t, "base").update(included=["paint-red", "paint-blue"]),
        "all in one-choice group 'paint'",
    ),
    "requirement never met on a trim": (
        lambda t: (
            _option(t, "pack-sport").update(trims=["sport"])
            or _option(t, "pack-track").update(trims=["sport"])
        ),
        "offers 'wheel-21' but none of the options it requires",
    ),
    "fractional money": (lambda t: _option(t, "paint-red").update(price_yuan=29.99), "whole number of yuan"),
    "negative money": (lambda t: _option(t, "paint-red").update(price_yuan=-1), "whole number of yuan"),
    "naive incentive time": (
        lambda t: _car(t)["incentives"][0].update(
            valid_from=_car(t)["incentives"][0]["valid_from"].replace(tzinfo=None)
        ),
        "UTC offset",
    ),
    "incentive ends before it starts": (
        lambda t: _car(t)["incentives"][0].update(valid_until=_car(t)["incentives"][0]["valid_from"]),
        "valid_from before valid_until",
    ),
    "flat incentive as large as a trim": (
        lambda t: _car(t)["incentives"][1].update(amount_yuan=200000),
        "smaller than every trim price",
    ),
    "unknown trim on an option": (
        lambda t: _option(t, "paint-red").update(trims=["gt"]),
        "unknown trims ['gt']",
    ),
    "duplicate option": (lambda t: _car(t)["options"].append(dict(_option(t, "paint-red"))), "appears twice"),
    "bad deposit": (lambda t: _car(t)["deposit"].update(refundable_hours=-1), "deposit"),
    "version not numeric": (lambda t: t.update(version="latest"), "dot-separated numbers"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_catalog_file_is_refused_naming_the_place(case: str) -> None:
    breaks, expected = BROKEN[case]
    tables = raw()
    breaks(tables)
    with pytest.raises(ValueError, match=re.escape(expected)):
        compile_catalog(tables)


def test_the_compiled_catalog_is_frozen() -> None:
    compiled = catalog()
    with pytest.raises(dataclasses.FrozenInstanceError):
        compiled.version = "2099.01"  # type: ignore[misc]
    with pytest.raises(TypeError):
        compiled.models["car"].options["paint-red"] = compiled.models["car"].options["paint-blue"]  # type: ignore[index]


def test_prices_are_held_in_integer_fen() -> None:
    model = catalog().models["car"]
    assert model.trims["base"].price_fen == 200_000_00
    assert model.options["paint-red"].price_fen == 3000_00
    assert model.from_price_fen == 200_000_00


def test_versions_sort_by_their_numbers() -> None:
    assert sorted(["2025.10", "2024.03", "2025.9"], key=version_key) == ["2024.03", "2025.9", "2025.10"]

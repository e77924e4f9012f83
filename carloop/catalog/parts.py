"""Parts that constrain supply and the bill of materials: which configurations use which part.

The data is ``bill_of_materials.toml`` next to this module (catalog data, like the catalog versions).
Pure: reading the packaged file is the only thing it does besides matching configurations.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from carloop.errors import NotFound

KINDS = ("battery", "lidar", "paint", "wheel", "seat")


@dataclass(frozen=True, slots=True)
class Part:
    """One part a car uses one unit of, its supplier, and the configurations that use it."""

    code: str
    name_en: str
    name_zh: str
    kind: str  # one of KINDS
    supplier: str  # the supplier's code
    models: frozenset[str]  # empty: any model
    trims: frozenset[str]
    options: frozenset[str]
    plan_cap: str | None  # the production plan's cap for this part's supply, if it has one

    def used_by(self, model: str, trim: str, options: Iterable[str]) -> bool:
        """Whether a car of this configuration uses one unit of this part."""
        if self.models and model not in self.models:
            return False
        return trim in self.trims or not self.options.isdisjoint(options)


def compile_parts(raw: dict[str, Any]) -> dict[str, Part]:
    """The parts of a bill-of-materials document, by code; ``ValueError`` names what is wrong."""
    found: dict[str, Part] = {}
    for i, item in enumerate(raw.get("parts", [])):
        where = f"parts[{i}]"
        unknown = set(item) - {
            "code",
            "name_en",
            "name_zh",
            "kind",
            "supplier",
            "models",
            "trims",
            "options",
            "plan_cap",
        }
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        code = str(item["code"])
        if code in found:
            raise ValueError(f"{where}: part {code!r} twice")
        if item["kind"] not in KINDS:
            raise ValueError(f"{where}: kind {item['kind']!r} is not one of {KINDS}")
        part = Part(
            code=code,
            name_en=str(item["name_en"]),
            name_zh=str(item["name_zh"]),
            kind=str(item["kind"]),
            supplier=str(item["supplier"]),
            models=frozenset(item.get("models", [])),
            trims=frozenset(item.get("trims", [])),
            options=frozenset(item.get("options", [])),
            plan_cap=item.get("plan_cap"),
        )
        if not part.trims and not part.options:
            raise ValueError(f"{where}: a part needs trims or options that use it")
        found[code] = part
    return found


@cache
def all_parts() -> dict[str, Part]:
    """Every part of the packaged bill of materials, by code."""
    with (files("carloop.catalog") / "bill_of_materials.toml").open("rb") as fh:
        return compile_parts(tomllib.load(fh))


def get_part(code: str) -> Part:
    """The part with this code; ``NotFound`` if there is none."""
    part = all_parts().get(code)
    if part is None:
        raise NotFound(f"There is no part '{code}'.", part=code)
    return part


def parts_of(model: str, trim: str, options: Iterable[str]) -> list[Part]:
    """The bill of materials of one configuration: the supply-constraining parts it uses."""
    chosen = frozenset(options)
    return [p for p in all_parts().values() if p.used_by(model, trim, chosen)]


def supplied_by(supplier: str) -> list[Part]:
    """The parts one supplier delivers, in code order."""
    return sorted((p for p in all_parts().values() if p.supplier == supplier), key=lambda p: p.code)

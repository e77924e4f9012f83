"""How a configuration looks: paint, wheels, calipers and roof load for the drawn car (catalog/_car.html).

Pure: option codes in, a ``Look`` out. Unknown paints fall back to a neutral grey, so a new catalog
version draws a car before anyone picks its colours here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from carloop.catalog import rules
from carloop.catalog.compiled import CarModel

PAINTS = {
    "paint-aqua-blue": "#2f7fa8",
    "paint-mineral-gray": "#7d8589",
    "paint-pearl-white": "#eef0f0",
    "paint-diamond-black": "#1c1f22",
    "paint-verdant-green": "#3f5a3c",
    "paint-twilight-purple": "#5b4a78",
    "paint-ultra-yellow": "#f2c318",
    "paint-cambrian-gray": "#6b6f70",
    "paint-lava-orange": "#e2591f",
    "paint-emerald-green": "#1f5e4d",
    "paint-titanium": "#a9a59c",
}
DEFAULT_PAINT = "#8a9299"
CALIPERS = {"caliper-red": "#c8102e", "caliper-yellow": "#f5c400"}
DEFAULT_CALIPER = "#5a5f64"
ROOFS = {
    "acc-roof-rack": "rack",
    "acc-crossbars": "rack",
    "acc-roof-platform": "platform",
    "acc-roof-box": "box",
}
ROOF_ORDER = ("rack", "platform", "box")  # what shows when several are chosen: a box sits on the bars
WINGS = frozenset({"acc-carbon-aero"})


@dataclass(frozen=True, slots=True)
class Look:
    """What the drawing needs: body shape, colours, wheel size and style, roof load, rear wing."""

    body: str  # "sedan" or "suv"
    paint: str
    caliper: str
    wheel: str  # "19", "20", "21"
    forged: bool
    roof: str  # "", "rack", "platform" or "box"
    wing: bool


def body_of(body_en: str) -> str:
    """The drawing's body shape for a model's body type ("SUV" or anything else, drawn as a sedan)."""
    return "suv" if body_en.strip().lower() == "suv" else "sedan"


def option_look(code: str) -> str:
    """One option's part of the look as ``aspect:value`` (for the configurator's live drawing), or ""."""
    if code in PAINTS or code.startswith("paint-"):
        return f"paint:{PAINTS.get(code, DEFAULT_PAINT)}"
    if code in CALIPERS:
        return f"caliper:{CALIPERS[code]}"
    if code.startswith("wheel-"):
        return f"wheel:{_wheel(code)[0]}{'f' if _wheel(code)[1] else ''}"
    if code in ROOFS:
        return f"roof:{ROOFS[code]}"
    if code in WINGS:
        return "wing:1"
    return ""


def _wheel(code: str) -> tuple[str, bool]:
    size = next((part for part in code.split("-") if part.isdigit()), "19")
    return (size if size in ("19", "20", "21") else "19"), ("forged" in code or "ultra" in code)


def look_of(body_en: str, options: Iterable[str]) -> Look:
    """The look of a configuration of a model with body type ``body_en``."""
    chosen = list(options)
    paint = next((PAINTS.get(c, DEFAULT_PAINT) for c in chosen if c.startswith("paint-")), DEFAULT_PAINT)
    caliper = next((CALIPERS[c] for c in chosen if c in CALIPERS), DEFAULT_CALIPER)
    wheel, forged = next((_wheel(c) for c in chosen if c.startswith("wheel-")), ("19", False))
    roof = max((ROOFS[c] for c in chosen if c in ROOFS), key=ROOF_ORDER.index, default="")
    return Look(body_of(body_en), paint, caliper, wheel, forged, roof, any(c in WINGS for c in chosen))


def look_of_model(model: CarModel, options: Iterable[str] = (), trim: str | None = None) -> Look:
    """The look of ``model`` with ``options`` on ``trim`` (default the first), its defaults filled in."""
    chosen = model.trims.get(trim or "") or next(iter(model.trims.values()))
    return look_of(model.body_en, rules.selection(model, chosen, options) | frozenset(options))


def car_look(model: CarModel | str, options: Iterable[str] = (), trim: str | None = None) -> Look:
    """The drawn car's look for a model (a ``CarModel`` or its code in the current catalog)."""
    from carloop.catalog import service  # the catalog files; the rest of this module stays pure

    if isinstance(model, str):
        found = service.current_catalog().models.get(model)
        if found is None:
            return look_of("", options)
        model = found
    return look_of_model(model, options, trim)

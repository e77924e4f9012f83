"""The drawn car's look follows the configuration; every option of every catalog maps to something sane."""

from __future__ import annotations

import re

from carloop.catalog import looks, service


def test_a_configuration_sets_paint_wheels_calipers_roof_and_wing() -> None:
    look = looks.look_of(
        "Sedan", ["paint-ultra-yellow", "wheel-21-ultra", "caliper-red", "acc-roof-rack", "acc-carbon-aero"]
    )
    assert look == looks.Look("sedan", "#f2c318", "#c8102e", "21", True, "rack", True)
    plain = looks.look_of("SUV", ["paint-lava-orange", "wheel-20"])
    assert (plain.body, plain.paint, plain.wheel, plain.forged, plain.roof, plain.wing) == (
        "suv", "#e2591f", "20", False, "", False
    )  # fmt: skip


def test_an_unknown_paint_is_drawn_neutral_and_other_options_draw_nothing() -> None:
    assert looks.look_of("Sedan", ["paint-new-colour"]).paint == looks.DEFAULT_PAINT
    assert looks.option_look("pack-comfort") == ""
    assert looks.option_look("paint-new-colour") == f"paint:{looks.DEFAULT_PAINT}"


def test_every_catalog_option_has_a_valid_look_and_the_defaults_are_filled_in() -> None:
    for version in service.list_versions():
        for model in service.get_catalog(version).models.values():
            for code in model.options:
                look = looks.option_look(code)
                assert look == "" or re.fullmatch(
                    r"(paint|caliper):#[0-9a-f]{6}|wheel:(19|20|21)f?|roof:\w+|wing:1", look
                )
                if code.startswith("paint-"):
                    assert code in looks.PAINTS, f"{version} {code} has no colour in catalog.looks.PAINTS"
            default = looks.look_of_model(model)
            assert default.paint != looks.DEFAULT_PAINT  # the first trim's default paint is drawn


def test_a_roof_box_on_crossbars_is_drawn_as_the_box() -> None:
    assert looks.look_of("SUV", ["acc-roof-box", "acc-crossbars"]).roof == "box"
    assert looks.look_of("SUV", ["acc-crossbars", "acc-roof-box"]).roof == "box"

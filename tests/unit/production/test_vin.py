"""VINs: ISO 3779 characters and the position-9 check digit, against published examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.production import rules

PUBLISHED = [
    "1M8GDM9AXKP042788",  # the worked example in the VIN check-digit literature (check digit X)
    "11111111111111111",  # all ones: the sum is 89 = 8 * 11 + 1, so the check digit is 1
    "1HGCM82633A004352",  # a Honda Accord VIN widely used as a decoder example
]


@pytest.mark.parametrize("vin", PUBLISHED)
def test_published_vins_have_a_valid_check_digit(vin: str) -> None:
    assert rules.is_valid_vin(vin)
    assert rules.vin_check_digit(vin) == vin[8]


def test_the_check_digit_of_the_worked_example_is_x() -> None:
    assert rules.vin_check_digit("1M8GDM9A_KP042788".replace("_", "0")) == "X"


@pytest.mark.parametrize(
    "vin",
    [
        "1M8GDM9A1KP042788",  # wrong check digit
        "11111111211111111",  # wrong check digit
        "1M8GDM9AXKP04278",  # 16 characters
        "1M8GDM9AXKP0427I8",  # I is not a VIN character
        "OM8GDM9AXKP042788",  # O is not a VIN character
    ],
)
def test_invalid_vins_are_refused(vin: str) -> None:
    assert not rules.is_valid_vin(vin)


def test_a_made_vin_carries_the_manufacturer_year_plant_and_serial() -> None:
    vin = rules.make_vin(wmi="LCL", descriptor="SU7MA", model_year=2025, plant_code="B", serial=42)
    assert len(vin) == 17 and rules.is_valid_vin(vin)
    assert vin[:3] == "LCL" and vin[9] == "S" and vin[10] == "B" and vin[11:] == "000042"


def test_model_year_codes_follow_the_30_year_cycle() -> None:
    assert rules.model_year_code(2010) == "A"
    assert rules.model_year_code(2024) == "R"
    assert rules.model_year_code(2025) == "S"
    assert rules.model_year_code(2030) == "Y"
    assert rules.model_year_code(2031) == "1"


@given(
    serial=st.integers(1, 999_999),
    year=st.integers(2010, 2039),
    trim=st.sampled_from(["pro", "max", "ultra"]),
)
def test_every_made_vin_is_valid_and_distinct_serials_give_distinct_vins(
    serial: int, year: int, trim: str
) -> None:
    vin = rules.make_vin(
        wmi="LCL",
        descriptor=rules.vin_descriptor("su7", trim),
        model_year=year,
        plant_code="B",
        serial=serial,
    )
    assert rules.is_valid_vin(vin)
    other = rules.make_vin(
        wmi="LCL",
        descriptor=rules.vin_descriptor("su7", trim),
        model_year=year,
        plant_code="B",
        serial=serial % 999_999 + 1,
    )
    assert other != vin


def test_a_single_changed_character_is_detected() -> None:
    vin = PUBLISHED[0]
    changed = vin[:12] + "1" + vin[13:]  # 0 -> 1 in position 13 (weight 5)
    assert not rules.is_valid_vin(changed)

"""What /ecosystem shows of a device, live: the car is "at home" only inside a home's radius, numbers
are ready to show (and a dash when unknown), the destination's name, and whether it is connected."""

from carloop.ecosystem import live
from carloop.ecosystem.simulator import PLACES

HOME = live.Place("世纪公园的家", PLACES["home"][0], PLACES["home"][1], 150.0)


def test_the_car_is_at_home_inside_the_radius_and_away_outside_it() -> None:
    at_home = {"latitude": PLACES["home"][0] + 0.0005, "longitude": PLACES["home"][1]}  # about 55 m
    away = {"latitude": PLACES["home"][0] + 0.01, "longitude": PLACES["home"][1]}  # about 1.1 km
    assert live.view(at_home, [HOME])["home"] == "世纪公园的家"
    assert live.view(away, [HOME])["home"] == ""
    assert live.view({}, [HOME])["home"] == ""  # no position: not claimed to be home


def test_fields_are_ready_to_show_and_unknown_values_are_a_dash() -> None:
    state = {"battery": 61.6, "speed": 42, "locked": False, "cabin_temp": 22.25}
    shown = live.view({**state, "destination": {"name": "陆家嘴"}}, [])
    assert shown["battery"] == "62" and shown["speed"] == "42" and shown["cabin_temp"] == "22.2"
    assert shown["locked"] is False and shown["destination"] == "陆家嘴" and shown["moving"] is True
    empty = live.view({}, [])
    assert empty["battery"] == "–" and empty["cabin_temp"] == "–" and empty["speed"] == "0"
    assert empty["online"] is None and empty["destination"] == "" and empty["locked"] is True
    assert live.view({"online": False}, [])["online"] is False

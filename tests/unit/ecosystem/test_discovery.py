"""Home Assistant sees each car as the owner allows, named in the owner's language, and unavailable
when the car or the bridge is gone."""

from __future__ import annotations

import json

from carloop.ecosystem.bridge import Bridge, VehicleInfo
from carloop.ecosystem.discovery import ha_state, location_state, vehicle_configs
from carloop.ecosystem.engine import Engine
from carloop.ecosystem.models import Precision
from carloop.ecosystem.mqtt import FakeBroker, FakeClient, MqttClient
from carloop.ecosystem.protocol import BRIDGE_STATUS, OFFLINE, availability_topic, bridge_status_topic
from carloop.ecosystem.rules import Zone
from carloop.ecosystem.simulator import PLACES, Fleet, SimCar, SimDevice

CAR = "vehicle.7"
ZONES = {
    "zone.home": Zone("zone.home", *PLACES["home"], radius_m=150),
    "zone.office": Zone("zone.office", *PLACES["office"], radius_m=200),
}
STATE = {"ts": 1.0, "latitude": 31.2396, "longitude": 121.4997, "accuracy": 8, "battery": 60}


def test_names_follow_the_owners_language_and_unique_ids_never_change() -> None:
    zh = vehicle_configs(CAR, name="我的车", language="zh_CN")
    en = vehicle_configs(CAR, name="My car", language="en")
    assert zh.keys() == en.keys()
    assert [c["unique_id"] for c in zh.values()] == [c["unique_id"] for c in en.values()]
    names_zh = {t.split("/")[3]: c["name"] for t, c in zh.items()}
    names_en = {t.split("/")[3]: c["name"] for t, c in en.items()}
    assert names_en["battery"] == "Battery" and names_zh["battery"] == "电量"
    assert names_zh["climate"] == "车内空调" and names_zh["location"] == "位置"
    assert all(not n.isascii() for n in names_zh.values())  # every name translated


def test_every_entity_is_unavailable_when_the_car_or_the_bridge_is_gone() -> None:
    for config in vehicle_configs(CAR, name="car").values():
        assert config["availability_mode"] == "all"
        assert [a["topic"] for a in config["availability"]] == [availability_topic(CAR), BRIDGE_STATUS]


def test_tracker_state_is_home_a_zone_name_or_not_home() -> None:
    assert location_state(["zone.home", "zone.office"]) == "home"
    assert location_state(["zone.office"]) == "office"
    assert location_state([]) == "not_home"
    body = json.loads(ha_state(STATE, Precision.ZONE, ["zone.office"], ZONES))
    assert body["location"] == "office" and body["attributes"] == {"zones": ["office"]}


def test_destination_is_a_name_never_coordinates_below_exact() -> None:
    going = {**STATE, "destination": {"latitude": 31.2304, "longitude": 121.4737, "name": "People's Square"}}
    home = {
        **STATE,
        "destination": {"latitude": PLACES["home"][0], "longitude": PLACES["home"][1], "name": "家"},
    }

    def seen(state: dict[str, object], precision: Precision) -> tuple[str, dict[str, object]]:
        body = json.loads(ha_state(state, precision, [], ZONES))
        return body["destination"], body["destination_attributes"]

    assert seen(STATE, Precision.EXACT) == ("None", {})  # no destination: unknown in Home Assistant
    assert seen(going, Precision.ZONE) == ("not_home", {})
    assert seen(home, Precision.ZONE) == ("home", {})
    assert seen(going, Precision.KM) == ("People's Square", {})
    name, attributes = seen(going, Precision.EXACT)
    assert name == "People's Square" and attributes == {"latitude": 31.2304, "longitude": 121.4737}
    assert len(ha_state(going, Precision.EXACT, [], ZONES)) < 1000


def _fleet(broker: FakeBroker) -> tuple[Fleet, dict[str, FakeClient]]:
    clients: dict[str, FakeClient] = {}

    def connect(entity_id: str, will: tuple[str, str]) -> MqttClient:
        client = broker.client(will=will)
        client.connect()
        clients[entity_id] = client
        return client

    return Fleet(connect=connect), clients


def test_a_simulated_car_that_vanishes_goes_offline_by_its_own_will() -> None:
    broker = FakeBroker()
    fleet, clients = _fleet(broker)
    fleet.add_car(CAR, SimCar())
    fleet.add_device("light.8", SimDevice("light"))
    assert broker.retained[availability_topic(CAR)] == b"online"
    clients[CAR].drop()  # killed: the broker publishes its will
    assert broker.retained[availability_topic(CAR)] == b"offline"
    assert broker.retained[availability_topic("light.8")] == b"online"


def test_a_clean_stop_says_offline_for_every_device_and_the_bridge() -> None:
    broker = FakeBroker()
    fleet, _ = _fleet(broker)
    fleet.add_car(CAR, SimCar())
    fleet.add_device("light.8", SimDevice("light"))
    fleet.stop()
    assert broker.retained[availability_topic(CAR)] == b"offline"
    assert broker.retained[availability_topic("light.8")] == b"offline"

    engine = Engine()
    client = broker.client(will=(BRIDGE_STATUS, OFFLINE))
    client.connect()
    bridge = Bridge(client, engine, vehicles={CAR: VehicleInfo("car")})
    bridge.start(tick_interval=None)
    assert broker.retained[BRIDGE_STATUS] == b"online"
    bridge.stop()
    assert broker.retained[BRIDGE_STATUS] == b"offline"


def test_a_route_starts_where_the_route_starts() -> None:
    broker = FakeBroker()
    fleet, _ = _fleet(broker)
    car = SimCar()  # parked at home
    car.drive([PLACES["office"], PLACES["home"]], speed_kmh=50)
    fleet.add_car(CAR, car)
    first = next(json.loads(p) for t, p, _ in broker.log if t.endswith("/vehicle/7/state"))
    assert (first["latitude"], first["longitude"]) == PLACES["office"]


def _named_status(broker: FakeBroker, car: str) -> set[str]:
    """The bridge availability topics the car's retained discovery configs name."""
    names = set()
    for topic in vehicle_configs(car, name="x"):
        config = json.loads(broker.retained[topic])
        names |= {a["topic"] for a in config["availability"] if a["topic"] != availability_topic(car)}
    return names


def test_sharded_bridges_each_say_online_and_offline_for_the_cars_they_serve() -> None:
    broker = FakeBroker()
    bridges = {}
    for member in ("host-a:1:aa", "host-b:2:bb"):
        status = bridge_status_topic(member)
        client = broker.client(will=(status, OFFLINE))
        client.connect()
        bridges[member] = Bridge(client, Engine(), sharded=True, status_topic=status)
        bridges[member].start(tick_interval=None)
    a, b = bridges.values()
    assert a.status_topic == "carloop/v1/bridge/host-a:1:aa/status" != b.status_topic
    assert BRIDGE_STATUS not in broker.retained  # no bridge speaks for every car
    a.vehicles["vehicle.1"] = VehicleInfo("one")
    b.vehicles["vehicle.2"] = VehicleInfo("two")
    for bridge in (a, b):
        bridge.publish_discovery()
    assert _named_status(broker, "vehicle.1") == {a.status_topic}
    assert _named_status(broker, "vehicle.2") == {b.status_topic}
    assert broker.retained[a.status_topic] == broker.retained[b.status_topic] == b"online"

    # vehicle.1 is handed from a to b and back: each time its configs name the bridge serving it
    for giver, taker in ((a, b), (b, a)):
        giver.follow({"vehicle.1"})
        giver.unfollow({"vehicle.1"})
        giver.vehicles.pop("vehicle.1")
        taker.vehicles["vehicle.1"] = VehicleInfo("one")
        taker.publish_discovery()
        assert _named_status(broker, "vehicle.1") == {taker.status_topic}

    # b dies: its last will makes its cars unavailable, not a's
    b.client.drop()  # type: ignore[attr-defined]
    assert broker.retained[b.status_topic] == b"offline" and broker.retained[a.status_topic] == b"online"
    a.stop()  # a clean stop says offline too
    assert broker.retained[a.status_topic] == b"offline"

"""Adversarial: one owner's scenes never reach another owner's car, and scene YAML cannot balloon.

A signed-in customer tries to watch every car's state topic (or one other car's), and to store a few
hundred bytes of YAML that expand into gigabytes; both are refused at save time, and a scene that got
past validation anyway (stored before it existed) hears nothing of other owners at run time.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.ecosystem import activity, service
from carloop.ecosystem.api_schemas import HomeCreate
from carloop.ecosystem.bridge import Bridge
from carloop.ecosystem.models import Precision, Scene
from carloop.ecosystem.mqtt import FakeBroker
from carloop.ecosystem.protocol import state_topic
from carloop.ecosystem.simulator import PLACES

VICTIM, ATTACKER = "13800138001", "13900139001"


def sign_in(client: TestClient, phone: str) -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def own_car(session_factory: sessionmaker[Session], phone: str, order_id: int) -> tuple[int, str]:
    with session_factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone=phone)
        service.create_home(
            session=session,
            customer_id=customer.id,
            data=HomeCreate(name="Home", latitude=PLACES["home"][0], longitude=PLACES["home"][1]),
        )
        car = service.link_vehicle(
            session=session, customer_id=customer.id, order_id=order_id, vin=None, model="su7", trim="pro"
        )
        return customer.id, car.entity_id


def mqtt_scene(topic: str) -> dict[str, Any]:
    return {
        "alias": "Where is everyone",
        "precision": "exact",
        "triggers": [{"trigger": "mqtt", "topic": topic}],
        "actions": [{"action": "carloop.notify", "data": {"message": "{{ trigger.payload }}"}}],
    }


def test_a_wildcard_over_every_cars_state_is_stored_disabled_and_cannot_be_enabled(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _, victim_car = own_car(session_factory, VICTIM, 7001)
    own_car(session_factory, ATTACKER, 7002)
    auth = sign_in(client, ATTACKER)
    for topic in ("carloop/v1/+/+/state", "#", "carloop/v1/#", state_topic(victim_car)):
        response = client.post(
            "/api/v1/ecosystem/scenes", json={"definition": mqtt_scene(topic)}, headers=auth
        )
        assert response.status_code == 201, response.text
        [scene] = response.json()
        assert scene["enabled"] is False and "MQTT trigger" in scene["error"], (topic, scene["error"])
        enable = client.post(f"/api/v1/ecosystem/scenes/{scene['id']}/enable", headers=auth)
        assert enable.status_code == 422
        assert enable.headers["content-type"].startswith("application/problem+json")


def test_a_wait_for_trigger_on_another_cars_topic_is_refused_too(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _, victim_car = own_car(session_factory, VICTIM, 7003)
    _, my_car = own_car(session_factory, ATTACKER, 7004)
    definition = mqtt_scene(state_topic(my_car))
    definition["actions"] = [{"wait_for_trigger": [{"trigger": "mqtt", "topic": state_topic(victim_car)}]}]
    auth = sign_in(client, ATTACKER)
    [scene] = client.post("/api/v1/ecosystem/scenes", json={"definition": definition}, headers=auth).json()
    assert scene["enabled"] is False and "another owner" in scene["error"]


def test_the_owner_may_watch_their_own_car_and_their_own_space(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    customer_id, my_car = own_car(session_factory, ATTACKER, 7005)
    auth = sign_in(client, ATTACKER)
    for topic in (state_topic(my_car), f"carloop/v1/owner/{customer_id}/button/+"):
        [scene] = client.post(
            "/api/v1/ecosystem/scenes", json={"definition": mqtt_scene(topic)}, headers=auth
        ).json()
        assert scene["error"] == "", scene["error"]
        enable = client.post(f"/api/v1/ecosystem/scenes/{scene['id']}/enable", headers=auth)
        assert enable.status_code == 200


def test_a_scene_stored_before_validation_hears_nothing_of_other_owners(
    session_factory: sessionmaker[Session],
) -> None:
    victim_id, victim_car = own_car(session_factory, VICTIM, 7006)
    attacker_id, _ = own_car(session_factory, ATTACKER, 7007)
    with session_factory.begin() as session:  # as an old database may hold it: enabled, no error
        session.add(
            Scene(
                customer_id=attacker_id,
                name="legacy",
                definition=mqtt_scene("carloop/v1/+/+/state"),
                enabled=True,
                error="",
                precision=Precision.EXACT,
            )
        )
    with session_factory() as session:
        engine = activity.build_engine(session=session)
    broker = FakeBroker()
    client = broker.client()
    client.connect()
    bridge = Bridge(client, engine, ha_enabled=False)
    bridge.start(tick_interval=None)
    fix = {"ts": 1.0, "latitude": 31.219612, "longitude": 121.544734}
    broker.client().publish(state_topic(victim_car), json.dumps(fix))
    bridge.tick()
    notified = [t for t, _, _ in broker.log if t.startswith("carloop/v1/owner/")]
    assert notified == []
    assert engine.trace_store.drain() == [] and victim_id != attacker_id


def test_nested_yaml_aliases_are_a_problem_not_gigabytes(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    own_car(session_factory, ATTACKER, 7008)
    auth = sign_in(client, ATTACKER)
    lines = ['a0: &a0 ["lol"]'] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    text = "\n".join([*lines, "alias: Bomb", "triggers: *a9", "actions: *a9"]) + "\n"
    assert len(text) < 700
    response = client.post("/api/v1/ecosystem/scenes", json={"yaml": text}, headers=auth)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("yaml-too-large")
    assert client.get("/api/v1/ecosystem/scenes", headers=auth).json() == []


def test_broker_credentials_are_the_owners_alone(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    customer_id, car = own_car(session_factory, VICTIM, 7009)
    car_id = int(car.split(".")[1])
    victim, attacker = sign_in(client, VICTIM), sign_in(client, ATTACKER)
    path = f"/api/v1/ecosystem/devices/{car_id}/credentials"
    stolen = client.post(path, headers=attacker)
    assert stolen.status_code == 404
    assert stolen.headers["content-type"].startswith("application/problem+json")
    issued = client.post(path, headers=victim).json()
    assert issued["username"] == issued["client_id"] == f"carloop-vehicle-{car_id}"
    assert issued["state_topic"] == state_topic(car) and len(issued["secret"]) >= 24
    with session_factory() as session:
        stored = service.get_device(session=session, customer_id=customer_id, device_id=car_id).secret_hash
    assert stored.startswith("$7$") and issued["secret"] not in stored

    ha = client.post("/api/v1/ecosystem/home-assistant/credentials", headers=victim).json()
    assert ha["username"] == f"carloop-ha-{customer_id}" and ha["vehicles"] == [car]
    with session_factory() as session:
        accounts = {a.username: a for a in service.mqtt_accounts(session=session)}
    assert set(accounts) >= {issued["username"], ha["username"]}
    assert all(
        car.replace(".", "/") in t or "owner" in t or "status" in t for t in accounts[ha["username"]].publish
    )
    assert client.delete("/api/v1/ecosystem/home-assistant/credentials", headers=victim).status_code == 204
    with session_factory() as session:
        assert ha["username"] not in {a.username for a in service.mqtt_accounts(session=session)}

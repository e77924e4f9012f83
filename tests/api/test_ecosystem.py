"""Ecosystem API and pages: homes, pairing, scenes with errors, YAML, dry runs, privacy of other owners."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.ecosystem import service
from carloop.ecosystem.simulator import PLACES

HTML = {"Accept": "text/html"}


def sign_in(client: TestClient, phone: str) -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def link_car(session_factory: sessionmaker[Session], phone: str) -> str:
    with session_factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone=phone)
        car = service.link_vehicle(
            session=session, customer_id=customer.id, order_id=4242, vin=None, model="su7", trim="pro"
        )
        return car.entity_id


@pytest.fixture
def owner(client: TestClient, session_factory: sessionmaker[Session]) -> dict[str, str]:
    auth = sign_in(client, "13800138000")
    link_car(session_factory, "13800138000")
    home = {"name": "Home", "latitude": PLACES["home"][0], "longitude": PLACES["home"][1]}
    assert client.post("/api/v1/ecosystem/homes", json=home, headers=auth).status_code == 201
    for kind, name in (("light", "Hall light"), ("climate", "Living room AC")):
        issued = client.post(
            "/api/v1/ecosystem/devices", json={"kind": kind, "name": name}, headers=auth
        ).json()
        paired = client.post("/api/v1/ecosystem/pair", json={"code": issued["code"]}, headers=auth)
        assert paired.status_code == 200, paired.text
    return auth


def test_pairing_gives_the_device_its_topics_once(client: TestClient, owner: dict[str, str]) -> None:
    issued = client.post(
        "/api/v1/ecosystem/devices", json={"kind": "lock", "name": "Door"}, headers=owner
    ).json()
    other = sign_in(client, "13900139002")
    assert (
        client.post("/api/v1/ecosystem/pair", json={"code": issued["code"]}, headers=other).status_code == 404
    )
    first = client.post("/api/v1/ecosystem/pair", json={"code": issued["code"]}, headers=owner)
    assert first.status_code == 200
    body = first.json()
    assert body["state_topic"] == f"carloop/v1/lock/{issued['device_id']}/state"
    assert (
        client.post("/api/v1/ecosystem/pair", json={"code": issued["code"]}, headers=owner).status_code == 404
    )
    kinds = [d["kind"] for d in client.get("/api/v1/ecosystem/devices", headers=owner).json()]
    assert sorted(kinds) == ["climate", "light", "lock", "vehicle"]


def test_a_car_cannot_be_added_by_hand(client: TestClient, owner: dict[str, str]) -> None:
    response = client.post("/api/v1/ecosystem/devices", json={"kind": "vehicle", "name": "x"}, headers=owner)
    assert response.status_code == 422


def test_unknown_fields_are_refused(client: TestClient, owner: dict[str, str]) -> None:
    response = client.post("/api/v1/ecosystem/scenes", json={"preset": "coming_home", "x": 1}, headers=owner)
    assert response.status_code == 422


def test_invalid_yaml_scene_is_kept_disabled_and_cannot_be_enabled(
    client: TestClient, owner: dict[str, str]
) -> None:
    text = "alias: Bad\ntriggers:\n  - trigger: zone\n    entity_id: vehicle.1\n"
    text += "    zone: zone.moon\nactions: []\n"
    [scene] = client.post("/api/v1/ecosystem/scenes", json={"yaml": text}, headers=owner).json()
    assert scene["enabled"] is False and scene["error"]
    response = client.post(f"/api/v1/ecosystem/scenes/{scene['id']}/enable", headers=owner)
    assert response.status_code == 422


def test_preset_dry_run_shows_when_it_would_fire(client: TestClient, owner: dict[str, str]) -> None:
    [scene] = client.post("/api/v1/ecosystem/scenes", json={"preset": "coming_home"}, headers=owner).json()
    assert scene["error"] == ""
    result = client.post(f"/api/v1/ecosystem/scenes/{scene['id']}/dry-run", json={}, headers=owner).json()
    commands = [(e["entity_id"].split(".")[0], e["command"]) for e in result["effects"]]
    assert sorted(commands) == [("climate", "turn_on"), ("light", "turn_on")]
    assert result["traces"][0]["outcome"] == "finished"
    assert client.get(f"/api/v1/ecosystem/scenes/{scene['id']}/traces", headers=owner).json() == []  # dry


def test_export_is_home_assistant_yaml(client: TestClient, owner: dict[str, str]) -> None:
    english = {**owner, "Accept-Language": "en"}
    client.post("/api/v1/ecosystem/scenes", json={"preset": "low_battery"}, headers=english)
    text = client.get("/api/v1/ecosystem/scenes/export", headers=owner).text
    assert text.startswith("- alias: 'Low battery: charge at home'")
    assert "condition: numeric_state" in text


def test_a_preset_added_through_the_api_is_named_in_the_requests_language(
    client: TestClient, owner: dict[str, str]
) -> None:
    chinese = {**owner, "Accept-Language": "zh-CN,zh;q=0.9"}
    [scene] = client.post("/api/v1/ecosystem/scenes", json={"preset": "coming_home"}, headers=chinese).json()
    assert scene["name"] == "回家模式"
    english = {**owner, "Accept-Language": "en"}
    [scene] = client.post("/api/v1/ecosystem/scenes", json={"preset": "coming_home"}, headers=english).json()
    assert scene["name"] == "Coming home"


def test_another_owner_sees_none_of_it(client: TestClient, owner: dict[str, str]) -> None:
    [scene] = client.post("/api/v1/ecosystem/scenes", json={"preset": "coming_home"}, headers=owner).json()
    other = sign_in(client, "13900139001")
    assert client.get("/api/v1/ecosystem/devices", headers=other).json() == []
    assert client.get(f"/api/v1/ecosystem/scenes/{scene['id']}/traces", headers=other).status_code == 404
    assert client.post(f"/api/v1/ecosystem/scenes/{scene['id']}/enable", headers=other).status_code == 404


def test_destination_needs_the_running_bridge(client: TestClient, owner: dict[str, str]) -> None:
    car = next(
        d for d in client.get("/api/v1/ecosystem/devices", headers=owner).json() if d["kind"] == "vehicle"
    )
    response = client.post(
        f"/api/v1/ecosystem/vehicles/{car['id']}/destination",
        json={"latitude": 31.23, "longitude": 121.47, "name": "x"},
        headers=owner,
    )
    assert response.status_code == 409


def _page_session(client: TestClient, auth: dict[str, str]) -> str:
    client.cookies.set("carloop_session", auth["Authorization"].removeprefix("Bearer "))
    page = client.get("/ecosystem", headers=HTML)
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def test_owner_pages_add_a_preset_enable_it_and_read_the_scene(
    client: TestClient, owner: dict[str, str]
) -> None:
    csrf = _page_session(client, owner)
    page = client.get("/ecosystem", headers=HTML).text
    assert "Hall light" in page and "Living room AC" in page
    client.post("/ecosystem/scenes/preset", data={"csrf_token": csrf, "preset": "coming_home"}, headers=HTML)
    scene_id = client.get("/api/v1/ecosystem/scenes", headers=owner).json()[0]["id"]
    client.post(
        f"/ecosystem/scenes/{scene_id}/toggle", data={"csrf_token": csrf, "enabled": "true"}, headers=HTML
    )
    assert client.get("/api/v1/ecosystem/scenes", headers=owner).json()[0]["enabled"] is True
    scene_page = client.get(f"/ecosystem/scenes/{scene_id}?dry=1&lang=en", headers=HTML)
    assert scene_page.status_code == 200
    assert 'data-testid="dry-result"' in scene_page.text and "turn_on" in scene_page.text
    assert client.get("/ecosystem/phone?lang=zh-CN", headers=HTML).text.count("人民广场") == 1


@pytest.mark.parametrize(
    ("lang", "name", "english"), [("zh-CN", "回家模式", "Coming home"), ("en", "Coming home", "回家模式")]
)
def test_a_preset_added_on_the_page_is_named_in_the_pages_language(
    client: TestClient, owner: dict[str, str], lang: str, name: str, english: str
) -> None:
    csrf = _page_session(client, owner)
    form = {"csrf_token": csrf, "preset": "coming_home"}
    client.post(f"/ecosystem/scenes/preset?lang={lang}", data=form, headers=HTML)
    [scene] = client.get("/api/v1/ecosystem/scenes", headers=owner).json()
    assert scene["name"] == name
    page = client.get(f"/ecosystem/scenes/{scene['id']}?lang={lang}", headers=HTML).text
    assert name in page and english not in page


@pytest.mark.parametrize(("lang", "word"), [("zh-CN", "打开"), ("en", "switch on")])
def test_a_dry_run_says_what_the_scene_would_do_in_the_pages_language(
    client: TestClient, owner: dict[str, str], lang: str, word: str
) -> None:
    csrf = _page_session(client, owner)
    client.post("/ecosystem/scenes/preset", data={"csrf_token": csrf, "preset": "coming_home"}, headers=HTML)
    [scene] = client.get("/api/v1/ecosystem/scenes", headers=owner).json()
    page = client.get(f"/ecosystem/scenes/{scene['id']}?dry=1&lang={lang}", headers=HTML).text
    effects = re.findall(r'<li data-testid="dry-effect"[^>]*>(.*?)</li>', page, re.S)
    assert effects and all(e.endswith(f"</span> {word}") for e in effects), effects


def test_page_forms_need_the_anti_forgery_token(client: TestClient, owner: dict[str, str]) -> None:
    _page_session(client, owner)
    response = client.post(
        "/ecosystem/scenes/preset", data={"csrf_token": "forged", "preset": "coming_home"}, headers=HTML
    )
    assert response.status_code == 403


def test_pairing_from_the_page(client: TestClient, owner: dict[str, str]) -> None:
    csrf = _page_session(client, owner)
    added = client.post(
        "/ecosystem/devices",
        data={"csrf_token": csrf, "kind": "cover", "name": "Curtains"},
        headers=HTML,
        follow_redirects=False,
    )
    code = added.headers["location"].split("code=")[1]
    assert code in client.get(added.headers["location"], headers=HTML).text
    client.post("/ecosystem/pair", data={"csrf_token": csrf, "code": code}, headers=HTML)
    statuses = {d["name"]: d["status"] for d in client.get("/api/v1/ecosystem/devices", headers=owner).json()}
    assert statuses["Curtains"] == "paired"


def test_anonymous_visitor_is_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/ecosystem", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def _record_a_drive(session_factory: sessionmaker[Session], phone: str, day_start: float) -> int:
    """Store the simulator's Lujiazui-to-home drive as the owner's recorded states."""
    from datetime import UTC, datetime

    from carloop.ecosystem import drives
    from carloop.ecosystem.simulator import ROUTES, record_drive

    with session_factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone=phone)
        car = next(
            d
            for d in service.list_devices(session=session, customer_id=customer.id)
            if d.kind.value == "vehicle"
        )
        samples = record_drive(car.entity_id, ROUTES["office-home"], start=day_start, speed_kmh=60)
        for sample in samples:
            at = datetime.fromtimestamp(sample["t"], UTC)
            drives.record(session=session, samples={car.id: (customer.id, at, sample["state"])})
        return len(samples)


def test_owner_consents_to_recorded_drives_replays_a_day_and_deletes_it(
    client: TestClient, owner: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    assert client.get("/api/v1/ecosystem/settings", headers=owner).json() == {
        "ha_language": "zh_CN",
        "record_drives": False,
        "drive_retention_days": 30,
    }
    refused = client.put(
        "/api/v1/ecosystem/settings",
        json={"ha_language": "fr", "record_drives": True, "drive_retention_days": 30},
        headers=owner,
    )
    assert refused.status_code == 422 or refused.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert refused.status_code < 500
    chosen = {"ha_language": "en", "record_drives": True, "drive_retention_days": 7}
    assert client.put("/api/v1/ecosystem/settings", json=chosen, headers=owner).json() == chosen

    recorded = _record_a_drive(session_factory, "13800138000", 1_780_000_000.0)  # 2026-05-29 04:26 Shanghai
    assert client.get("/api/v1/ecosystem/drives", headers=owner).json() == [
        {"day": "2026-05-29", "samples": recorded}
    ]
    [scene] = client.post("/api/v1/ecosystem/scenes", json={"preset": "coming_home"}, headers=owner).json()
    replay = client.post(
        f"/api/v1/ecosystem/scenes/{scene['id']}/dry-run", json={"day": "2026-05-29"}, headers=owner
    ).json()
    assert replay["samples"] == recorded
    assert sorted(e["command"] for e in replay["effects"]) == ["turn_on", "turn_on"]  # one arrival
    empty = client.post(
        f"/api/v1/ecosystem/scenes/{scene['id']}/dry-run", json={"day": "2026-05-30"}, headers=owner
    )
    assert empty.status_code == 404
    other = sign_in(client, "13900139003")
    assert client.get("/api/v1/ecosystem/drives", headers=other).json() == []

    assert client.delete("/api/v1/ecosystem/drives?day=2026-05-29", headers=owner).status_code == 204
    assert client.get("/api/v1/ecosystem/drives", headers=owner).json() == []


def test_withdrawing_consent_deletes_recorded_drives(
    client: TestClient, owner: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    client.put(
        "/api/v1/ecosystem/settings",
        json={"ha_language": "zh_CN", "record_drives": True, "drive_retention_days": 30},
        headers=owner,
    )
    _record_a_drive(session_factory, "13800138000", 1_780_000_000.0)
    csrf = _page_session(client, owner)
    page = client.get("/ecosystem?lang=zh-CN", headers=HTML).text
    assert 'data-testid="drive-days"' in page and "状态（state）触发器" in page
    client.post(
        "/ecosystem/drives/consent",
        data={"csrf_token": csrf, "record": "false", "retention_days": "30"},
        headers=HTML,
    )
    assert client.get("/api/v1/ecosystem/drives", headers=owner).json() == []
    assert client.get("/api/v1/ecosystem/settings", headers=owner).json()["record_drives"] is False


def test_recorded_drives_older_than_the_retention_are_purged(
    client: TestClient, owner: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    from datetime import UTC, datetime, timedelta

    from carloop.ecosystem import drives

    client.put(
        "/api/v1/ecosystem/settings",
        json={"ha_language": "zh_CN", "record_drives": True, "drive_retention_days": 7},
        headers=owner,
    )
    recorded = _record_a_drive(session_factory, "13800138000", 1_780_000_000.0)
    start = datetime.fromtimestamp(1_780_000_000.0, UTC)
    with session_factory.begin() as session:
        assert drives.purge_expired(session=session, now=start + timedelta(days=6)) == 0
        assert drives.purge_expired(session=session, now=start + timedelta(days=8)) == recorded


def test_owner_page_shows_when_the_car_was_last_seen_and_that_it_is_offline(
    client: TestClient, owner: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone="13800138000")
        car = next(
            d
            for d in service.list_devices(session=session, customer_id=customer.id)
            if d.kind.value == "vehicle"
        )
        service.store_states(session=session, states={car.id: {"ts": 1_780_000_000.0, "online": False}})
    _page_session(client, owner)
    page = client.get("/ecosystem?lang=en", headers=HTML).text
    assert 'data-testid="device-offline"' in page and 'data-testid="last-seen"' in page
    assert "2026" in page.split('data-testid="last-seen"')[1][:120]

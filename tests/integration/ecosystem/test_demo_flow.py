"""The demo, end to end through the pages and the real broker: the owner's delivered car and two paired
devices, "Coming home" enabled, the simulated car drives home, the devices switch on, a destination goes
from the phone page to the car, and the owner reads the run trace."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.ecosystem.demo import seed_demo
from carloop.ecosystem.models import Device, DeviceKind, DeviceStatus
from carloop.ecosystem.runtime import Runtime
from carloop.ecosystem.simulator import PLACES, offset
from carloop.settings import Settings

HTML = {"Accept": "text/html"}


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


@pytest.fixture
def demo_client(
    settings: Settings, session_factory: sessionmaker[Session], mqtt_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The app with the ecosystem on (bridge and simulated fleet) against the test broker."""
    settings = settings.model_copy(
        update={"ecosystem": "on", "mqtt_url": mqtt_url, "ecosystem_simulate": True, "reload_interval": 0.2}
    )
    with session_factory.begin() as session:
        buyer = accounts.get_or_create_customer(session=session, phone="13800138000")
        _device_ids_of_our_own(session, buyer.id)
        seed_demo(session=session, customer_id=buyer.id)
    from carloop.web.app import create_app

    app = create_app(settings)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client
    finally:
        app.state.engine.dispose()


def _device_ids_of_our_own(session: Session, customer_id: int) -> None:
    """Start device ids at a random number: tests on other databases share the broker's topics."""
    start = random.randrange(10_000_000, 2_000_000_000)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT setval(pg_get_serial_sequence('eco_device', 'id'), :n)"), {"n": start})
    else:  # SQLite hands out max(id) + 1: park a revoked placeholder at the start
        session.add(
            Device(
                id=start,
                customer_id=customer_id,
                kind=DeviceKind.PHONE,
                name="-",
                status=DeviceStatus.REVOKED,
            )
        )
        session.flush()


def _csrf(client: TestClient, path: str = "/ecosystem") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path, headers=HTML).text)
    assert match
    return match.group(1)


def test_demo_owner_flow(demo_client: TestClient) -> None:
    client = demo_client
    code = client.post("/api/v1/auth/code", json={"phone": "13800138000"}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": "13800138000", "code": code}).json()["token"]
    client.cookies.set("carloop_session", token)
    auth = {"Authorization": f"Bearer {token}"}
    runtime: Runtime = client.app.state.ecosystem  # type: ignore[attr-defined]
    assert runtime is not None and runtime.fleet is not None
    csrf = _csrf(client)

    # two home devices, paired from the page
    for kind, name in (("light", "Hall light"), ("climate", "Living room AC")):
        added = client.post(
            "/ecosystem/devices",
            data={"csrf_token": csrf, "kind": kind, "name": name},
            headers=HTML,
            follow_redirects=False,
        )
        pairing_code = added.headers["location"].split("code=")[1]
        client.post("/ecosystem/pair", data={"csrf_token": csrf, "code": pairing_code}, headers=HTML)
    devices = {d["name"]: d for d in client.get("/api/v1/ecosystem/devices", headers=auth).json()}
    car = next(d for d in devices.values() if d["kind"] == "vehicle")
    light, ac = devices["Hall light"]["entity_id"], devices["Living room AC"]["entity_id"]

    # "Coming home", enabled
    client.post("/ecosystem/scenes/preset", data={"csrf_token": csrf, "preset": "coming_home"}, headers=HTML)
    [scene] = client.get("/api/v1/ecosystem/scenes", headers=auth).json()
    assert scene["error"] == ""
    client.post(
        f"/ecosystem/scenes/{scene['id']}/toggle", data={"csrf_token": csrf, "enabled": "true"}, headers=HTML
    )
    wait_for(lambda: light in runtime.fleet.devices and scene["id"] in runtime.bridge.engine.scenes)  # type: ignore[union-attr]

    # "Drive home" starts the simulated car; fast-forward the last kilometre
    response = client.post(
        f"/ecosystem/devices/{car['id']}/drive-home", data={"csrf_token": csrf}, headers=HTML
    )
    assert response.status_code == 200
    runtime.fleet.drive(car["entity_id"], [offset(PLACES["home"], 900, 45), PLACES["home"]], speed_kmh=120)
    for _ in range(40):
        runtime.fleet.step(1)
        time.sleep(0.02)
    wait_for(lambda: runtime.fleet.devices[light].state == "on" and runtime.fleet.devices[ac].state == "on")  # type: ignore[union-attr]

    def page_shows_on() -> bool:
        page = client.get("/ecosystem?lang=en", headers=HTML).text
        return page.count('<strong data-field="state">On</strong>') == 2

    wait_for(page_shows_on)

    # a destination from the phone page reaches the car
    csrf = _csrf(client, "/ecosystem/phone")
    sent = client.post(
        "/ecosystem/phone/destination",
        data={"csrf_token": csrf, "device_id": str(car["id"]), "destination": "people_square"},
        headers=HTML,
    )
    assert 'data-testid="destination-sent"' in sent.text
    wait_for(
        lambda: (runtime.fleet.cars[car["entity_id"]].destination or {}).get("name") == "People's Square"
    )  # type: ignore[union-attr]
    wait_for(
        lambda: (
            'data-field="destination">People&#39;s Square<'
            in client.get("/ecosystem?lang=en", headers=HTML).text
        )
    )

    # the run trace
    trace_page = wait_for(
        lambda: (
            (p := client.get(f"/ecosystem/scenes/{scene['id']}?lang=en", headers=HTML).text).count(
                'data-testid="trace"'
            )
            and p
        )
    )
    words = re.sub(r"<[^>]+>", "", trace_page)
    assert "finished" in words and f"Command → {light} switch on" in words
    zh = re.sub(r"<[^>]+>", "", client.get(f"/ecosystem/scenes/{scene['id']}?lang=zh-CN", headers=HTML).text)
    assert f"指令 → {light} 打开" in zh and "触发：进出区域" in zh  # the run in the page's language

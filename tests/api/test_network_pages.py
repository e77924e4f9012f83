"""Network pages: the finder and its offline map, booking a slot by form, my appointments, staff calendars."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.clock import utcnow
from carloop.network import service as network
from carloop.web.deps import csrf_token_for

HTML = {"Accept": "text/html"}
PASSWORD = "a-long-staff-password"


@pytest.fixture
def seeded(client: TestClient) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        network.seed_sample_network(session=s)
        network.set_demo_cars(
            session=s, store=network.get_store_by_code(session=s, code="SH-ST-01"), cars={"su7": 1}
        )
        for username, code in (("bj", "BJ-DC-01"), ("sh", "SH-ST-01")):
            store = network.get_store_by_code(session=s, code=code)
            accounts.create_staff(
                session=s, actor=None, username=username, display_name=username, password=PASSWORD,
                role=Role.STORE_STAFF, store_id=store.id,
            )  # fmt: skip


def as_buyer(client: TestClient, phone: str) -> str:
    """Sign in with a cookie like a browser; returns the form token."""
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    client.cookies.set("carloop_session", token)
    return csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]


def as_staff(client: TestClient, username: str) -> None:
    token = client.post(
        "/api/v1/auth/staff/sign-in", json={"username": username, "password": PASSWORD}
    ).json()["token"]
    client.cookies.set("carloop_session", token)


@pytest.mark.usefixtures("seeded")
def test_the_finder_lists_nearby_stores_with_a_map_in_chinese_and_english(client: TestClient) -> None:
    page = client.get(
        "/stores", params={"city": "Shanghai", "service": "test_drive", "model": "su7"}, headers=HTML
    )
    assert page.status_code == 200
    assert "查找门店" in page.text and 'data-testid="store-map"' in page.text
    assert "/stores/SH-ST-01" in page.text and "/stores/BJ-" not in page.text
    english = client.get(
        "/stores", params={"city": "Shanghai", "lang": "en"}, headers={**HTML, "Accept-Language": "en"}
    )
    assert "Find a store" in english.text
    unknown = client.get("/stores", params={"city": "Atlantis"}, headers=HTML)
    assert unknown.status_code == 404 and "Atlantis" in unknown.text


@pytest.mark.usefixtures("seeded")
def test_a_buyer_books_a_slot_by_form_and_a_second_buyer_finds_it_full(client: TestClient) -> None:
    anonymous = client.get("/stores/SH-ST-01", params={"kind": "test_drive", "model": "su7"}, headers=HTML)
    assert "/login?next=/stores/SH-ST-01" in anonymous.text
    csrf = as_buyer(client, "13800138000")
    page = client.get("/stores/SH-ST-01", params={"kind": "test_drive", "model": "su7"}, headers=HTML)
    starts_at = re.findall(r'name="starts_at" value="([^"]+)"', page.text)[0]
    form = {
        "csrf_token": csrf,
        "kind": "test_drive",
        "store_code": "SH-ST-01",
        "starts_at": starts_at,
        "model": "su7",
    }
    booked = client.post("/appointments/book", data=form, headers=HTML, follow_redirects=False)
    assert booked.status_code == 303 and booked.headers["location"].startswith("/appointments?booked=")
    mine = client.get(booked.headers["location"], headers=HTML)
    assert 'data-testid="appointments"' in mine.text and "SU7" in mine.text
    assert 'data-testid="booking-confirmed"' in mine.text and "恭候您" in mine.text
    again = client.post("/appointments/book", data=form, headers=HTML)  # a double click, a second tab
    assert again.status_code == 409 and "您在该门店的这个时段已有预约" in again.text

    csrf2 = as_buyer(client, "13900139000")
    full = client.post("/appointments/book", data={**form, "csrf_token": csrf2}, headers=HTML)
    assert full.status_code == 409 and 'data-testid="booking-error"' in full.text
    assert 'data-testid="booking-confirmed"' not in client.get(booked.headers["location"], headers=HTML).text
    forged = client.post("/appointments/book", data={**form, "csrf_token": "forged"}, headers=HTML)
    assert forged.status_code == 403

    day = starts_at[:10]
    as_staff(client, "sh")
    own = client.get("/staff/calendar", params={"day": day}, headers=HTML)
    assert own.status_code == 200 and 'data-testid="calendar"' in own.text
    as_staff(client, "bj")
    other = client.get("/staff/calendar", params={"day": day}, headers=HTML)
    assert "BJ-DC-01" in other.text and 'data-testid="calendar"' not in other.text


@pytest.mark.usefixtures("seeded")
def test_a_buyer_cancels_by_form(client: TestClient) -> None:
    csrf = as_buyer(client, "13800138000")
    day = (utcnow() + timedelta(days=2)).date().isoformat()
    slot = client.get(
        "/api/v1/stores/SH-ST-01/slots",
        params={"kind": "test_drive", "day": day, "model": "su7"},
        headers={"Authorization": f"Bearer {client.cookies.get('carloop_session')}"},
    ).json()[0]
    form = {
        "csrf_token": csrf,
        "kind": "test_drive",
        "store_code": "SH-ST-01",
        "starts_at": slot["starts_at"],
        "model": "su7",
    }
    assert (
        client.post("/appointments/book", data=form, headers=HTML, follow_redirects=False).status_code == 303
    )
    appointment_id = re.findall(
        r'action="/appointments/(\d+)/cancel"', client.get("/appointments", headers=HTML).text
    )[0]
    done = client.post(
        f"/appointments/{appointment_id}/cancel",
        data={"csrf_token": csrf},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert (
        f'action="/appointments/{appointment_id}/cancel"'
        not in client.get("/appointments", headers=HTML).text
    )


@pytest.mark.usefixtures("seeded")
def test_store_staff_reschedule_from_their_calendar_and_other_stores_get_404(client: TestClient) -> None:
    from zoneinfo import ZoneInfo

    from carloop.audit.models import AuditEntry

    as_buyer(client, "13800138000")
    bearer = {"Authorization": f"Bearer {client.cookies.get('carloop_session')}"}
    day = (utcnow() + timedelta(days=2)).date().isoformat()
    slots = client.get(
        "/api/v1/stores/SH-ST-01/slots", params={"kind": "test_drive", "day": day, "model": "su7"}
    ).json()
    body = {
        "kind": "test_drive",
        "store_code": "SH-ST-01",
        "starts_at": slots[0]["starts_at"],
        "model": "su7",
    }
    appointment_id = client.post("/api/v1/appointments", json=body, headers=bearer).json()["id"]
    later = datetime.fromisoformat(slots[2]["starts_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    local = later.strftime("%Y-%m-%dT%H:%M")  # what the page's datetime-local input sends

    token = client.post("/api/v1/auth/staff/sign-in", json={"username": "bj", "password": PASSWORD}).json()[
        "token"
    ]
    client.cookies.set("carloop_session", token)
    csrf = csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]
    form = {"csrf_token": csrf, "starts_at": local}
    other = client.post(f"/staff/appointments/{appointment_id}/reschedule", data=form, headers=HTML)
    assert other.status_code == 404

    token = client.post("/api/v1/auth/staff/sign-in", json={"username": "sh", "password": PASSWORD}).json()[
        "token"
    ]
    client.cookies.set("carloop_session", token)
    form["csrf_token"] = csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]
    calendar = client.get("/staff/calendar", params={"day": day}, headers=HTML)
    assert f'data-testid="reschedule-{appointment_id}"' in calendar.text and "改期" in calendar.text
    moved = client.post(
        f"/staff/appointments/{appointment_id}/reschedule", data=form, headers=HTML, follow_redirects=False
    )
    assert moved.status_code == 303
    now_at = client.get(f"/api/v1/appointments/{appointment_id}", headers=bearer).json()["starts_at"]
    assert datetime.fromisoformat(now_at) == later
    off_grid = client.post(
        f"/staff/appointments/{appointment_id}/reschedule",
        data={**form, "starts_at": later.strftime("%Y-%m-%dT%H:17")},
        headers=HTML,
    )
    assert off_grid.status_code == 409 and 'data-testid="calendar-error"' in off_grid.text
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        actions = [
            e.action
            for e in s.query(AuditEntry).filter(
                AuditEntry.target_type == "appointment", AuditEntry.target_id == str(appointment_id)
            )
        ]
    assert actions == ["appointment.reschedule"]


@pytest.mark.usefixtures("seeded")
def test_the_same_buyer_cannot_hold_one_slot_twice_even_with_cars_to_spare(client: TestClient) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        store = network.get_store_by_code(session=s, code="SH-ST-01")
        network.set_demo_cars(session=s, store=store, cars={"su7": 3})
    csrf = as_buyer(client, "13800138000")
    page = client.get("/stores/SH-ST-01", params={"kind": "test_drive", "model": "su7"}, headers=HTML)
    starts_at = re.findall(r'name="starts_at" value="([^"]+)"', page.text)[0]
    form = {"csrf_token": csrf, "kind": "test_drive", "store_code": "SH-ST-01", "starts_at": starts_at}
    first = client.post("/appointments/book", data={**form, "model": "su7"}, follow_redirects=False)
    assert first.status_code == 303
    twice = client.post("/appointments/book", data={**form, "model": "su7"}, headers=HTML)
    assert twice.status_code == 409 and "您在该门店的这个时段已有预约" in twice.text
    other_buyer = as_buyer(client, "13900139000")
    assert (
        client.post(
            "/appointments/book",
            data={**form, "model": "su7", "csrf_token": other_buyer},
            follow_redirects=False,
        ).status_code
        == 303
    )  # the slot itself still has cars

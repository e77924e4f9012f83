"""The booking lane (``web.booking_lane``, in the lane table in front of the app) answers like the
FastAPI route and never books one demo car twice; everything it passes reaches the app unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from carloop.accounts import service as accounts
from carloop.accounts.models import SessionToken
from carloop.accounts.schemas import Role
from carloop.appointments import fast, rules
from carloop.appointments.schemas import AppointmentCreate, AppointmentKind
from carloop.clock import utcnow
from carloop.network import service as network
from carloop.web.lanes import LaneApp

PASSWORD = "a-long-staff-password"


@pytest.fixture
def lean(app: FastAPI) -> Iterator[TestClient]:
    lanes = LaneApp(app)
    with TestClient(lanes, raise_server_exceptions=False) as c:  # type: ignore[arg-type]
        yield c
    lanes.close()


def sign_in(client: TestClient, phone: str) -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(app: FastAPI, lean: TestClient) -> dict[str, Any]:
    with app.state.sessions.begin() as s:
        network.seed_sample_network(session=s)
        network.set_demo_cars(
            session=s, store=network.get_store_by_code(session=s, code="SH-ST-01"), cars={"su7": 2}
        )
        network.set_demo_cars(
            session=s, store=network.get_store_by_code(session=s, code="BJ-ST-01"), cars={"su7": 1}
        )
        accounts.create_staff(
            session=s,
            actor=None,
            username="sh",
            display_name="sh",
            password=PASSWORD,
            role=Role.STORE_STAFF,
            store_id=network.get_store_by_code(session=s, code="SH-ST-01").id,
        )
    staff = lean.post("/api/v1/auth/staff/sign-in", json={"username": "sh", "password": PASSWORD}).json()
    return {
        "me": sign_in(lean, "13800138000"),
        "other": sign_in(lean, "13900139000"),
        "staff": {"Authorization": f"Bearer {staff['token']}"},
    }


def bearer(app: FastAPI, phone: str) -> dict[str, str]:
    """A signed-in buyer's headers, through the accounts service (no sign-in code round trip)."""
    with app.state.sessions.begin() as s:
        customer = accounts.get_or_create_customer(session=s, phone=phone)
        token, _ = accounts.start_session(session=s, settings=app.state.settings, customer=customer)
    return {"Authorization": f"Bearer {token}"}


def first_slot(client: TestClient, headers: dict[str, str], code: str, **params: str) -> dict[str, Any]:
    day = (utcnow() + timedelta(days=2)).date().isoformat()
    found = client.get(f"/api/v1/stores/{code}/slots", params={"day": day, **params}, headers=headers)
    assert found.status_code == 200, found.text
    return dict(found.json()[0])


def test_the_lean_route_books_each_demo_car_once_and_answers_like_the_app(
    lean: TestClient, world: dict[str, Any]
) -> None:
    me, other = world["me"], world["other"]
    slot = first_slot(lean, me, "SH-ST-01", kind="test_drive", model="su7")
    assert slot["free"] == 2
    body = {"kind": "test_drive", "store_code": "SH-ST-01", "starts_at": slot["starts_at"], "model": "su7"}
    first = lean.post("/api/v1/appointments", json=body, headers=me)
    second = lean.post("/api/v1/appointments", json=body, headers=other)
    assert first.status_code == 201 and second.status_code == 201, second.text
    full = lean.post("/api/v1/appointments", json=body, headers=other)
    assert full.status_code == 409
    assert full.headers["content-type"] == "application/problem+json"
    assert full.json()["code"] == "capacity-exhausted" and full.json()["instance"] == "/api/v1/appointments"
    # the stored appointment reads back through the app exactly as the lean route answered it
    stored = lean.get(f"/api/v1/appointments/{first.json()['id']}", headers=me)
    assert stored.json() == first.json()
    assert first.json()["status"] == "booked" and first.json()["store_code"] == "SH-ST-01"
    assert first_slot(lean, me, "SH-ST-01", kind="test_drive", model="su7")["free"] == 0
    # the app's own route agrees the slot is full
    assert lean.get("/api/v1/appointments", headers=other).json()[0]["id"] == second.json()["id"]


def test_service_jobs_hold_a_bay_and_a_technician_for_every_step(
    app: FastAPI, lean: TestClient, world: dict[str, Any]
) -> None:
    me = world["me"]
    slot = first_slot(lean, me, "BJ-DC-01", kind="service", service_type="repair")
    body = {
        "kind": "service",
        "store_code": "BJ-DC-01",
        "starts_at": slot["starts_at"],
        "service_type": "repair",
    }
    buyers = [bearer(app, f"1370013700{i}") for i in range(slot["free"] + 1)]  # one each: per-buyer limits
    booked = [lean.post("/api/v1/appointments", json=body, headers=h) for h in buyers]
    assert [r.status_code for r in booked] == [201] * slot["free"] + [409]
    assert booked[-1].json()["code"] == "capacity-exhausted"
    assert booked[0].json()["ends_at"] > booked[0].json()["starts_at"]
    after = first_slot(lean, me, "BJ-DC-01", kind="service", service_type="repair")
    assert after["starts_at"] == slot["starts_at"] and after["free"] == 0


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"store_code": "XX-NONE"}, 404, "XX-NONE"),
        ({"starts_at": "2020-01-01T02:00:00Z"}, 422, "begun"),
        ({"model": "nope"}, 422, "demo car"),
        ({"colour": "red"}, 422, "colour"),
        ({"kind": "delivery"}, 422, "does not offer delivery"),
    ],
)
def test_refusals_are_the_apps_problems(
    lean: TestClient, world: dict[str, Any], change: dict[str, str], status: int, needle: str
) -> None:
    slot = first_slot(lean, world["me"], "SH-ST-01", kind="test_drive", model="su7")
    body = {"kind": "test_drive", "store_code": "SH-ST-01", "starts_at": slot["starts_at"], "model": "su7"}
    answer = lean.post("/api/v1/appointments", json={**body, **change}, headers=world["me"])
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json" and needle in answer.text


def test_only_a_signed_in_buyer_books(app: FastAPI, lean: TestClient, world: dict[str, Any]) -> None:
    slot = first_slot(lean, world["me"], "SH-ST-01", kind="test_drive", model="su7")
    body = {"kind": "test_drive", "store_code": "SH-ST-01", "starts_at": slot["starts_at"], "model": "su7"}
    assert lean.post("/api/v1/appointments", json=body).status_code == 401
    bogus = {"Authorization": "Bearer not-a-session"}
    assert lean.post("/api/v1/appointments", json=body, headers=bogus).status_code == 401
    assert lean.post("/api/v1/appointments", json=body, headers=world["staff"]).status_code == 403
    lean.post("/api/v1/auth/sign-out", headers=world["other"])
    assert lean.post("/api/v1/appointments", json=body, headers=world["other"]).status_code == 401
    expiring = sign_in(lean, "13700137000")
    assert lean.post("/api/v1/appointments", json=body, headers=expiring).status_code == 201
    with app.state.sessions.begin() as s:
        s.execute(
            update(SessionToken)
            .where(SessionToken.token_hash == fast.digest(expiring["Authorization"][7:]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert lean.post("/api/v1/appointments", json=body, headers=expiring).status_code == 401
    broken = {**world["me"], "Content-Type": "application/json"}
    assert lean.post("/api/v1/appointments", content=b"{", headers=broken).status_code == 400


def test_a_batch_racing_for_one_car_stores_exactly_one(app: FastAPI, world: dict[str, Any]) -> None:
    """The write decides: attempts that all passed the read check still book the car once."""
    now = utcnow()
    engine = app.state.engine
    with engine.connect() as conn:
        store = fast.load_store(conn, "BJ-ST-01", "su7")
        customer = fast.customer_of(conn, world["me"]["Authorization"][7:], now)
    assert store is not None and customer is not None
    day = (now + timedelta(days=3)).date()
    with app.state.sessions() as s:
        from carloop.appointments import service

        start = service.available_slots(
            session=s, store_code="BJ-ST-01", kind=AppointmentKind.TEST_DRIVE, day=day, model="su7"
        )[0][0]
    body = AppointmentCreate(
        kind=AppointmentKind.TEST_DRIVE, store_code="BJ-ST-01", starts_at=start, model="su7"
    )
    attempts = [fast.plan(body, customer_id=customer, store=store, now=now) for _ in range(4)]
    with engine.begin() as conn:
        results = fast.write_batch(conn, attempts, now)
    assert sum(r is not None for r in results) == 1
    with engine.begin() as conn:
        again = fast.write_batch(conn, [fast.plan(body, customer_id=customer, store=store, now=now)], now)
    assert again == [None]
    with engine.connect() as conn:
        held = fast.load_slot(conn, "BJ-ST-01", "su7", [start])[1]
        assert len({h for h in held if h[0].startswith("car:")}) == 1  # one car (and the buyer) held


@pytest.mark.parametrize(
    "change",
    [
        {"starts_at": "9999-12-31T23:30:00+00:00"},
        {"starts_at": "0001-01-01T00:00:00+14:00"},
        {"starts_at": "2026-01-01T00:00:00"},
        {"kind": "service", "service_type": "repair", "starts_at": "9999-12-31T23:00:00-12:00"},
        {"store_code": "x" * 33},
        {"model": None},
        {"kind": "teleport"},
    ],
)
def test_odd_input_on_the_lean_route_is_a_4xx_problem_never_a_500(
    lean: TestClient, world: dict[str, Any], change: dict[str, Any]
) -> None:
    body = {
        "kind": "test_drive",
        "store_code": "SH-ST-01",
        "starts_at": "2030-01-01T02:00:00Z",
        "model": "su7",
    }
    answer = lean.post("/api/v1/appointments", json={**body, **change}, headers=world["me"])
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("route", ["lean", "app"])
def test_one_buyer_cannot_hold_every_test_drive_slot_of_a_day(
    route: str, app: FastAPI, lean: TestClient, client: TestClient, world: dict[str, Any]
) -> None:
    http = lean if route == "lean" else client
    me = world["me"]
    day = (utcnow() + timedelta(days=2)).date().isoformat()
    found = http.get(
        "/api/v1/stores/SH-ST-01/slots", params={"day": day, "kind": "test_drive", "model": "su7"}
    )
    starts = [s["starts_at"] for s in found.json()]
    limit = rules.BUYER_DAY_LIMITS[AppointmentKind.TEST_DRIVE]
    booked = [
        http.post(
            "/api/v1/appointments",
            json={"kind": "test_drive", "store_code": "SH-ST-01", "starts_at": at, "model": "su7"},
            headers={**me, "Accept-Language": "en"},
        )
        for at in starts[: limit + 1]
    ]
    assert [r.status_code for r in booked] == [201] * limit + [409]
    problem = booked[-1]
    assert problem.headers["content-type"].startswith("application/problem+json")
    assert problem.json()["code"] == "appointment-limit-reached" and problem.json()["limit"] == limit
    other = http.post(
        "/api/v1/appointments",
        json={"kind": "test_drive", "store_code": "SH-ST-01", "starts_at": starts[limit], "model": "su7"},
        headers=world["other"],
    )
    assert other.status_code == 201  # the slot was free; only that buyer's allowance was used up

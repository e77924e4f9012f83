"""HQ opens supplier accounts and rotates their API keys from /staff/supply: audited, each key shown once,
and a rotated-out key is refused by the suppliers' API."""

from __future__ import annotations

import time

from builders.accounts import csrf_of, staff_headers
from builders.supply import battery_plan
from fastapi.testclient import TestClient
from integration.production.conftest import use_plan
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Role
from carloop.accounts.staff import find_staff
from carloop.audit.models import AuditEntry
from carloop.supply.models import Supplier, SupplierUser
from carloop.supply.rules import sign

FORECAST = "/api/v1/supplier/forecast"
FORM = {
    "code": "ningde-cells",
    "name_en": "Ningde Cells Ltd",
    "name_zh": "宁德电芯",
    "username": "ningde",
    "password": "supplier-pass-2026",
}


def _forecast(client: TestClient, code: str, key: str) -> int:
    ts = str(int(time.time()))
    headers = {
        "X-Supplier": code,
        "X-Timestamp": ts,
        "X-Signature": sign(key, timestamp=ts, method="GET", path=FORECAST, body=b""),
    }
    return client.get(FORECAST, headers=headers).status_code


def _key_on(html: str) -> str:
    return html.split('data-testid="api-key">')[1].split("<")[0]


def _hq(client: TestClient, factory: sessionmaker[Session]) -> tuple[dict[str, str], str]:
    use_plan(factory, battery_plan(weekly=10))  # the suppliers' forecast reads the saved plan
    headers = {**staff_headers(client, factory, "hq1", Role.HQ_OPS), "Accept": "text/html"}
    page = client.get("/staff/supply", headers=headers)
    assert page.status_code == 200, page.text
    return headers, csrf_of(page.text)


def test_hq_opens_a_supplier_whose_key_is_shown_once_and_works(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    headers, csrf = _hq(client, session_factory)
    made = client.post("/staff/supply/suppliers", data={**FORM, "csrf_token": csrf}, headers=headers)
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    key = _key_on(made.text)
    with session_factory() as session:
        supplier = session.scalar(select(Supplier).where(Supplier.code == "ningde-cells"))
        assert supplier is not None and supplier.api_key == key and supplier.name_zh == "宁德电芯"
        staff = find_staff(session=session, username="ningde")
        assert staff is not None and staff.role is Role.SUPPLIER
        bound = session.scalar(select(SupplierUser).where(SupplierUser.staff_id == staff.id))
        assert bound is not None and bound.supplier_id == supplier.id
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "supply.supplier_created"))
        assert entry is not None and entry.actor.startswith("staff:") and entry.target_id == str(supplier.id)
        assert key not in str(entry.detail)
    assert _forecast(client, "ningde-cells", key) == 200
    again = client.get("/staff/supply", headers=headers)
    assert again.status_code == 200 and key not in again.text and 'data-testid="new-key"' not in again.text
    assert 'data-testid="supplier-ningde-cells"' in again.text


def test_a_rotated_key_replaces_the_old_one_at_once(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    headers, csrf = _hq(client, session_factory)
    old = _key_on(
        client.post("/staff/supply/suppliers", data={**FORM, "csrf_token": csrf}, headers=headers).text
    )
    rotated = client.post(
        "/staff/supply/suppliers/ningde-cells/key", data={"csrf_token": csrf}, headers=headers
    )
    assert rotated.status_code == 200, rotated.text
    new = _key_on(rotated.text)
    assert new != old and len(new) == 64
    assert _forecast(client, "ningde-cells", old) == 401
    assert _forecast(client, "ningde-cells", new) == 200
    with session_factory() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "supply.key_rotated"))
        assert entry is not None and entry.actor.startswith("staff:") and new not in str(entry.detail)
    missing = client.post("/staff/supply/suppliers/nobody/key", data={"csrf_token": csrf}, headers=headers)
    assert missing.status_code == 404


def test_a_bad_supplier_form_names_the_field_and_saves_nothing(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    headers, csrf = _hq(client, session_factory)
    for field, value in (
        ("code", "Ningde Cells!"),
        ("name_zh", " "),
        ("password", "short"),
        ("username", "x"),
    ):
        bad = client.post(
            "/staff/supply/suppliers",
            data={**FORM, field: value, "csrf_token": csrf},
            headers={**headers, "Accept": "application/json"},
        )
        assert bad.status_code == 422, (field, bad.text)
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert field in bad.text
    forged = client.post("/staff/supply/suppliers", data={**FORM, "csrf_token": "nope"}, headers=headers)
    assert forged.status_code == 403
    with session_factory() as session:
        assert session.scalar(select(Supplier)) is None
        assert find_staff(session=session, username="ningde") is None


def test_only_hq_opens_suppliers_or_rotates_keys(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    headers, csrf = _hq(client, session_factory)
    client.post("/staff/supply/suppliers", data={**FORM, "csrf_token": csrf}, headers=headers)
    finance = {**staff_headers(client, session_factory, "fin1", Role.HQ_FINANCE), "Accept": "text/html"}
    refused = client.post(
        "/staff/supply/suppliers/ningde-cells/key", data={"csrf_token": csrf}, headers=finance
    )
    assert refused.status_code in (403, 404)
    anonymous = client.post("/staff/supply/suppliers", data={**FORM, "code": "other-co", "csrf_token": csrf})
    assert anonymous.status_code in (401, 303, 403)
    with session_factory() as session:
        assert [s.code for s in session.scalars(select(Supplier))] == ["ningde-cells"]
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "supply.key_rotated")) is None


def _sign_in(client: TestClient, username: str) -> int:
    body = {"username": username, "password": FORM["password"]}
    return client.post("/api/v1/auth/staff/sign-in", json=body).status_code


def test_hq_adds_a_second_portal_user_and_switches_one_off_whose_sessions_end(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    headers, csrf = _hq(client, session_factory)
    client.post("/staff/supply/suppliers", data={**FORM, "csrf_token": csrf}, headers=headers)
    added = client.post(
        "/staff/supply/suppliers/ningde-cells/users",
        data={"csrf_token": csrf, "username": "ningde-night", "password": FORM["password"]},
        headers=headers,
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    assert _sign_in(client, "ningde-night") == 200
    token = client.post(
        "/api/v1/auth/staff/sign-in", json={"username": "ningde", "password": FORM["password"]}
    ).json()["token"]
    portal = {"Authorization": f"Bearer {token}", "Accept": "text/html"}
    assert client.get("/supplier", headers=portal, follow_redirects=False).status_code == 200
    with session_factory() as session:
        first = find_staff(session=session, username="ningde")
        second = find_staff(session=session, username="ningde-night")
        assert first is not None and second is not None
        bound = {u.staff_id for u in session.scalars(select(SupplierUser))}
        assert {first.id, second.id} <= bound
    page = client.get("/staff/supply", headers=headers).text
    assert 'data-testid="portal-user-ningde-night" data-active="yes"' in page
    off = client.post(
        f"/staff/supply/suppliers/ningde-cells/users/{first.id}",
        data={"csrf_token": csrf},
        headers=headers,
        follow_redirects=False,
    )
    assert off.status_code == 303, off.text
    ended = client.get("/supplier", headers=portal, follow_redirects=False)  # its session ended at once
    assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
    assert _sign_in(client, "ningde") == 401
    assert _sign_in(client, "ningde-night") == 200  # the other account keeps working
    page = client.get("/staff/supply", headers=headers).text
    assert 'data-testid="portal-user-ningde" data-active="no"' in page
    on = client.post(
        f"/staff/supply/suppliers/ningde-cells/users/{first.id}",
        data={"csrf_token": csrf, "active": "true"},
        headers=headers,
        follow_redirects=False,
    )
    assert on.status_code == 303 and _sign_in(client, "ningde") == 200
    with session_factory() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert {"supply.user_added", "supply.user_deactivated", "supply.user_activated"} <= set(actions)


def test_switching_a_portal_user_off_is_one_audit_entry_naming_hq_and_ends_its_session(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    headers, csrf = _hq(client, session_factory)
    client.post("/staff/supply/suppliers", data={**FORM, "csrf_token": csrf}, headers=headers)
    token = client.post(
        "/api/v1/auth/staff/sign-in", json={"username": "ningde", "password": FORM["password"]}
    ).json()["token"]
    portal = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=portal).json()["username"] == "ningde"
    assert client.get("/supplier", headers={**portal, "Accept": "text/html"}).status_code == 200
    with session_factory() as session:
        user, hq = find_staff(session=session, username="ningde"), find_staff(session=session, username="hq1")
        assert user is not None and hq is not None
        before = session.scalar(select(func.max(AuditEntry.id))) or 0
    off = client.post(
        f"/staff/supply/suppliers/ningde-cells/users/{user.id}",
        data={"csrf_token": csrf},
        headers=headers,
        follow_redirects=False,
    )
    assert off.status_code == 303, off.text
    with session_factory() as session:
        written = list(session.scalars(select(AuditEntry).where(AuditEntry.id > before)))
    assert [(e.action, e.actor, e.role, e.detail.get("staff_id")) for e in written] == [
        ("supply.user_deactivated", f"staff:{hq.id}", "hq_ops", user.id)
    ]
    ended = client.get("/supplier", headers={**portal, "Accept": "text/html"}, follow_redirects=False)
    assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
    assert client.get("/api/v1/me", headers=portal).status_code == 401


def test_only_the_suppliers_own_portal_users_can_be_switched(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    headers, csrf = _hq(client, session_factory)
    client.post("/staff/supply/suppliers", data={**FORM, "csrf_token": csrf}, headers=headers)
    with session_factory() as session:
        hq = find_staff(session=session, username="hq1")
        assert hq is not None
    # HQ's own account is not ningde's portal user: not found, and nothing changes.
    refused = client.post(
        f"/staff/supply/suppliers/ningde-cells/users/{hq.id}", data={"csrf_token": csrf}, headers=headers
    )
    assert refused.status_code == 404
    assert client.get("/staff/supply", headers=headers).status_code == 200  # still signed in and active
    missing = client.post(
        "/staff/supply/suppliers/nobody/users",
        data={"csrf_token": csrf, "username": "ghost", "password": FORM["password"]},
        headers=headers,
    )
    assert missing.status_code == 404
    bad = client.post(
        "/staff/supply/suppliers/ningde-cells/users/abc", data={"csrf_token": csrf}, headers=headers
    )
    assert bad.status_code == 422
    finance = staff_headers(client, session_factory, "fin2", Role.HQ_FINANCE)  # not planning: refused by role
    denied = client.post(
        "/staff/supply/suppliers/ningde-cells/users",
        data={"username": "sneaky", "password": FORM["password"]},
        headers=finance,
    )
    assert denied.status_code in (403, 404)
    with session_factory() as session:
        assert find_staff(session=session, username="sneaky") is None

"""The staff console through the app: navigation by role, users and roles, audit log, catalog, policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.audit.models import AuditEntry
from carloop.catalog import service as catalog
from carloop.network import service as network
from carloop.network.schemas import StoreKind
from carloop.web.deps import csrf_token_for

PASSWORD = "a-long-test-password-1"
HTML = {"Accept": "text/html"}


@pytest.fixture
def store_id(client: TestClient) -> int:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        store = network.create_store(
            session=s, code="BJ-DC-01", kind=StoreKind.DELIVERY_CENTRE, name_en="Beijing Delivery Centre",
            name_zh="北京交付中心", city="Beijing", province="Beijing",
        )  # fmt: skip
        for username, role, sid in (
            ("admin", Role.ADMIN, None),
            ("ops", Role.HQ_OPS, None),
            ("store1", Role.STORE_STAFF, store.id),
        ):
            accounts.create_staff(
                session=s, actor=None, username=username, display_name=username.title(), password=PASSWORD,
                role=role, store_id=sid,
            )  # fmt: skip
        return store.id


def sign_in(client: TestClient, username: str) -> str:
    token = client.post(
        "/api/v1/auth/staff/sign-in", json={"username": username, "password": PASSWORD}
    ).json()["token"]
    client.cookies.set("carloop_session", token)
    return csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]


@pytest.mark.usefixtures("store_id")
@pytest.mark.parametrize(
    ("username", "shown", "hidden"),
    [
        ("admin", ["/console/staff", "/console/analytics", "/console/policy"], []),
        ("ops", ["/console/analytics", "/console/catalog", "/console/audit"], ["/console/staff"]),
        (
            "store1",
            ["/staff/orders", "/console/audit"],
            ["/console/analytics", "/console/staff", "/console/policy"],
        ),
    ],
)
def test_the_console_shows_each_role_its_own_sections(
    client: TestClient, username: str, shown: list[str], hidden: list[str]
) -> None:
    sign_in(client, username)
    page = client.get("/console", headers=HTML)
    assert page.status_code == 200
    for path in shown:
        assert f'href="{path}"' in page.text, path
    for path in hidden:
        assert f'href="{path}"' not in page.text, path
        assert client.get(path, headers=HTML).status_code == 403, path


def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/console", headers=HTML, follow_redirects=False)
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]


@pytest.mark.usefixtures("store_id")
def test_an_admin_manages_staff_and_every_change_is_in_the_audit_log(
    client: TestClient, store_id: int
) -> None:
    csrf = sign_in(client, "admin")
    created = client.post(
        "/console/staff",
        data={"csrf_token": csrf, "username": "store2", "display_name": "Wang", "password": PASSWORD,
              "role": "store_staff", "store_id": str(store_id)},
        follow_redirects=False,
    )  # fmt: skip
    assert created.status_code == 303
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        new = accounts.find_staff(session=s, username="store2")
    assert new is not None and new.role is Role.STORE_STAFF
    promoted = client.post(
        f"/console/staff/{new.id}",
        data={"csrf_token": csrf, "role": "hq_ops", "store_id": "", "active": "on"},
        follow_redirects=False,
    )  # fmt: skip
    assert promoted.status_code == 303
    refused = client.post(
        "/console/staff",
        data={
            "csrf_token": csrf,
            "username": "x",
            "display_name": "X",
            "password": PASSWORD,
            "role": "store_staff",
        },
    )
    assert refused.status_code == 422 and 'data-testid="console-error"' in refused.text
    forged = client.post(f"/console/staff/{new.id}", data={"role": "admin"})
    assert forged.status_code == 403
    log = client.get("/console/audit", params={"target_type": "staff", "lang": "en"}, headers=HTML)
    assert log.status_code == 200
    assert "staff.created" in log.text and "staff.updated" in log.text and "store2" in log.text
    assert log.text.count("staff.updated") == 1  # the forged request changed nothing


@pytest.mark.usefixtures("store_id")
def test_store_staff_see_only_their_stores_audit_entries(client: TestClient, store_id: int) -> None:
    sign_in(client, "ops")
    client.get("/staff/orders", headers=HTML)  # an audited search by HQ (no store)
    sign_in(client, "store1")
    client.get("/staff/orders", headers=HTML)  # an audited search in store 1
    page = client.get("/console/audit", params={"action": "order.search"}, headers=HTML)
    assert page.status_code == 200
    rows = page.text.split('data-testid="audit-row"')[1:]
    assert len(rows) == 1 and "门店员工" in rows[0]  # the role, labelled (store_staff)
    sign_in(client, "ops")
    everything = client.get("/console/audit", params={"action": "order.search"}, headers=HTML)
    assert everything.text.count('data-testid="audit-row"') == 2


@pytest.mark.usefixtures("store_id")
def test_the_audit_log_filters_by_actor_action_target_and_china_day(client: TestClient) -> None:
    sign_in(client, "ops")
    client.get("/staff/orders", headers=HTML)  # order.search by ops
    sign_in(client, "admin")
    client.get("/console/staff", headers=HTML)  # staff.listed by admin
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        # 2026-03-01 23:30 in Shanghai is 15:30 UTC the same day; 2026-03-02 00:30 is 16:30 UTC on the 1st.
        s.execute(
            update(AuditEntry)
            .where(AuditEntry.action == "order.search")
            .values(at=datetime(2026, 3, 1, 15, 30, tzinfo=UTC))
        )
        s.execute(
            update(AuditEntry)
            .where(AuditEntry.action == "staff.listed")
            .values(at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC))
        )
        ops_actor = s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "order.search").limit(1))

    def rows(**params: str) -> list[str]:
        page = client.get("/console/audit", params=params, headers=HTML)
        assert page.status_code == 200, page.text
        return page.text.split('data-testid="audit-row"')[1:]

    march_1 = rows(date_from="2026-03-01", date_to="2026-03-01")
    assert len(march_1) == 1 and "order.search" in march_1[0]
    march_2 = rows(date_from="2026-03-02")
    assert all("order.search" not in r for r in march_2) and any("staff.listed" in r for r in march_2)
    ops_label = "员工 " + ops_actor.split(":")[1]  # the log labels staff:N as 员工 N
    assert [r for r in rows(actor=ops_actor) if "order.search" in r] and all(
        ops_label in r for r in rows(actor=ops_actor)
    )
    assert all("staff.listed" in r for r in rows(action="staff.listed"))
    staff_rows = rows(target_type="staff", target_id="*")
    assert staff_rows and all("staff.listed" in r for r in staff_rows)
    assert client.get("/console/audit", params={"date_from": "yesterday"}, headers=HTML).status_code == 422


@pytest.mark.usefixtures("store_id")
def test_hq_previews_and_activates_a_catalog_version(client: TestClient) -> None:
    csrf = sign_in(client, "ops")
    oldest, newest = catalog.list_versions()[0], catalog.list_versions()[-1]
    page = client.get("/console/catalog", params={"version": oldest}, headers=HTML)
    assert page.status_code == 200 and f'data-testid="activate-{oldest}"' in page.text
    assert client.post("/console/catalog/activate", data={"version": oldest}).status_code == 403
    done = client.post(
        "/console/catalog/activate", data={"csrf_token": csrf, "version": oldest}, follow_redirects=False
    )
    assert done.status_code == 303
    page = client.get("/console/catalog", headers=HTML)
    assert (
        f'data-testid="activate-{newest}"' in page.text
        and f'data-testid="activate-{oldest}"' not in page.text
    )
    assert (
        client.post("/console/catalog/activate", data={"csrf_token": csrf, "version": "1999.01"}).status_code
        == 404
    )
    log = client.get("/console/audit", params={"action": "catalog.activated"}, headers=HTML)
    assert oldest in log.text


@pytest.mark.usefixtures("store_id")
def test_hq_edits_deposit_policy_and_bad_terms_are_explained(client: TestClient) -> None:
    csrf = sign_in(client, "ops")
    page = client.get("/console/policy", params={"lang": "en"}, headers=HTML)
    assert page.status_code == 200 and "Deposit policy" in page.text
    saved = client.post(
        "/console/policy",
        data={"csrf_token": csrf, "model": "su7", "trim": "pro", "amount_yuan": "2000",
              "refundable_hours": "72", "auto_lock": "on"},
        follow_redirects=False,
    )  # fmt: skip
    assert saved.status_code == 303
    page = client.get("/console/policy", params={"lang": "en"}, headers=HTML)
    assert "72 h refundable" in page.text and "override" in page.text
    bad = client.post(
        "/console/policy",
        data={"csrf_token": csrf, "model": "su7", "trim": "", "amount_yuan": "abc", "refundable_hours": "72"},
    )
    assert bad.status_code == 422 and 'data-testid="console-error"' in bad.text
    cleared = client.post(
        "/console/policy",
        data={"csrf_token": csrf, "model": "su7", "trim": "pro", "clear": "1"},
        follow_redirects=False,
    )
    assert cleared.status_code == 303
    log = client.get("/console/audit", params={"target_type": "deposit_policy"}, headers=HTML)
    assert "deposit_policy.set" in log.text and "deposit_policy.cleared" in log.text

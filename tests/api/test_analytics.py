"""The analytics dashboard through the app: HQ only, both languages, filters, exports, market import."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.bench import launch_data as simulate
from carloop.network import service as network
from carloop.network.schemas import StoreKind
from carloop.web.deps import csrf_token_for

PASSWORD = "a-long-test-password-1"
HTML = {"Accept": "text/html"}


@pytest.fixture
def staff(client: TestClient) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        store = network.create_store(
            session=s, code="BJ-DC-01", kind=StoreKind.DELIVERY_CENTRE, name_en="Beijing Delivery Centre",
            name_zh="北京交付中心", city="Beijing", province="Beijing",
        )  # fmt: skip
        for username, role, store_id in (
            ("admin", Role.ADMIN, None),
            ("ops", Role.HQ_OPS, None),
            ("store1", Role.STORE_STAFF, store.id),
        ):
            accounts.create_staff(
                session=s, actor=None, username=username, display_name=username.title(), password=PASSWORD,
                role=role, store_id=store_id,
            )  # fmt: skip
        simulate.launch(s.connection(), orders=300, now=datetime(2026, 11, 1, tzinfo=UTC))


def sign_in(client: TestClient, username: str) -> str:
    """Sign in as staff with a cookie like a browser; returns the form token."""
    response = client.post("/api/v1/auth/staff/sign-in", json={"username": username, "password": PASSWORD})
    token = response.json()["token"]
    client.cookies.set("carloop_session", token)
    return csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]


def bearer(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/staff/sign-in", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.mark.usefixtures("staff")
def test_hq_sees_every_chart_in_both_languages_with_market_structure_after_loading_the_sample(
    client: TestClient,
) -> None:
    csrf = sign_in(client, "ops")
    empty = client.get("/console/analytics", headers=HTML)
    assert empty.status_code == 200 and 'data-testid="market-illustrative"' not in empty.text
    loaded = client.post(
        "/console/analytics/market", data={"csrf_token": csrf, "sample": "1"}, follow_redirects=False
    )
    assert loaded.status_code == 303
    zh = client.get("/console/analytics", params={"lang": "zh-CN"}, headers=HTML)
    assert zh.status_code == 200
    for testid in (
        "launch-curve",
        "funnel",
        "demographics",
        "channels",
        "regions",
        "market",
        "market-illustrative",
    ):
        assert f'data-testid="{testid}"' in zh.text, testid
    assert "上市曲线" in zh.text and "示例数据" in zh.text and "/static/vendor/chart.umd.min.js" in zh.text
    en = client.get("/console/analytics", params={"lang": "en"}, headers=HTML)
    assert "Launch curve" in en.text and "Illustrative sample, not real sales data." in en.text
    assert "HHI" in en.text and "CR4" in en.text and "Xiaomi ranks #" in en.text


@pytest.mark.usefixtures("staff")
def test_filters_narrow_the_figures(client: TestClient) -> None:
    headers = bearer(client, "ops")
    everything = client.get("/api/v1/analytics/dashboard", headers=headers).json()
    app_only = client.get("/api/v1/analytics/dashboard", params={"channel": "app"}, headers=headers).json()
    totals = dict(everything["tables"]["totals"]["rows"])
    narrowed = dict(app_only["tables"]["totals"]["rows"])
    assert totals["reservations"] == 300
    assert 0 < narrowed["reservations"] < 300 and narrowed["online_share"] == 1.0
    assert {r[0] for r in app_only["tables"]["channel"]["rows"]} == {"app"}
    future = client.get(
        "/api/v1/analytics/dashboard", params={"date_from": "2030-01-01"}, headers=headers
    ).json()
    assert dict(future["tables"]["totals"]["rows"])["reservations"] == 0
    bad = client.get("/api/v1/analytics/dashboard", params={"channel": "fax"}, headers=headers)
    assert bad.status_code == 422
    page = client.get(
        "/console/analytics",
        params={"model": "yu7", "channel": "store", "date_from": "bad"},
        headers={**HTML, **headers},
    )
    assert page.status_code == 200


@pytest.mark.usefixtures("staff")
def test_every_table_behind_a_chart_exports_as_csv_and_parquet(client: TestClient) -> None:
    sign_in(client, "ops")
    csv = client.get("/console/analytics/export/funnel.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.content.decode("utf-8-sig").splitlines()[0] == "stage,events"
    for name in ("launch_curve", "age_band", "channel", "province", "configuration", "lead_time", "market"):
        parquet = client.get(f"/console/analytics/export/{name}.parquet", params={"model": "su7"})
        assert parquet.status_code == 200, name
        assert pq.read_table(io.BytesIO(parquet.content)).num_columns >= 2
    assert client.get("/console/analytics/export/secrets.csv").status_code == 404
    assert client.get("/console/analytics/export/funnel.xlsx").status_code == 404


@pytest.mark.usefixtures("staff")
def test_delivery_accuracy_and_points_economy_panels_show_and_export(client: TestClient) -> None:
    from builders.accounts import owner

    from carloop.accounts.schemas import Principal
    from carloop.loyalty import service as points

    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        ops = Principal(role=Role.HQ_OPS, staff_id=1, display_name="ops")
        cid = owner(s)
        points.grant_compensation(session=s, principal=ops, customer_id=cid, points=700, reason="r", key="k")
        points.spend_points(session=s, customer_id=cid, points=200, key="cart")
    sign_in(client, "ops")
    for lang, heading in (("zh-CN", "积分经济"), ("en", "Points economy")):
        page = client.get("/console/analytics", params={"lang": lang}, headers=HTML)
        assert page.status_code == 200
        assert 'data-testid="delivery-eta"' in page.text and 'data-testid="points-economy"' in page.text
        assert heading in page.text
        economy = page.text.split('data-testid="points-economy"')[1].split("</div>")[0]
        assert ">700<" in economy and ">200<" in economy and ">500<" in economy
    csv = client.get("/console/analytics/export/points_economy.csv").content.decode("utf-8-sig").splitlines()
    assert csv[0] == "day,issued,redeemed,expired,outstanding" and csv[1].endswith(",700,200,0,500")
    eta = client.get("/console/analytics/export/delivery_eta.parquet", params={"model": "su7"})
    assert eta.status_code == 200
    assert pq.read_table(io.BytesIO(eta.content)).column_names[:3] == [
        "week",
        "delivered",
        "on_first_promise",
    ]
    future = client.get("/console/analytics/export/points_economy.csv", params={"date_from": "2099-01-01"})
    assert future.content.decode("utf-8-sig").splitlines() == ["day,issued,redeemed,expired,outstanding"]
    api = client.get("/api/v1/analytics/dashboard", headers=bearer(client, "ops")).json()
    assert api["tables"]["points_economy"]["rows"][-1][1:] == [700, 200, 0, 500]


@pytest.mark.usefixtures("staff")
def test_only_hq_reaches_analytics(client: TestClient) -> None:
    assert client.get("/api/v1/analytics/dashboard").status_code == 401
    assert client.get("/api/v1/analytics/dashboard", headers=bearer(client, "store1")).status_code == 403
    anonymous = client.get("/console/analytics", headers=HTML, follow_redirects=False)
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]
    sign_in(client, "store1")
    assert client.get("/console/analytics", headers=HTML).status_code == 403
    assert client.get("/console/analytics/export/funnel.csv").status_code == 403


@pytest.mark.usefixtures("staff")
def test_market_import_needs_the_form_token_and_a_valid_csv(client: TestClient) -> None:
    csrf = sign_in(client, "admin")
    assert client.post("/console/analytics/market", data={"sample": "1"}).status_code == 403
    bad = client.post(
        "/console/analytics/market",
        data={"csrf_token": csrf},
        files={"file": ("x.csv", b"month,brand\n2025-01,A\n")},
    )
    assert bad.status_code == 422
    good = client.post(
        "/console/analytics/market", data={"csrf_token": csrf},
        files={"file": ("real.csv", "month,brand,units\n2025-01,比亚迪,300\n2025-01,Xiaomi,100\n".encode())},
        follow_redirects=False,
    )  # fmt: skip
    assert good.status_code == 303
    page = client.get("/console/analytics", params={"lang": "en"}, headers=HTML)
    assert "Xiaomi ranks #2" in page.text and 'data-testid="market-illustrative"' not in page.text
    audit = client.get("/console/audit", params={"action": "market.imported"}, headers=HTML)
    assert "upload: real.csv" in audit.text

"""HQ runs the store network from the pages: outlets with kind, hub, hours and demo cars; store staff
keep their own outlet only; every save is audited; the public page shows hours and a map-app link."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.audit.models import AuditEntry
from carloop.network import service as network
from carloop.network.models import Store
from carloop.network.schemas import StoreKind
from carloop.web.deps import csrf_token_for

PASSWORD = "a-long-test-password-1"
HTML = {"Accept": "text/html"}


@pytest.fixture
def staff(client: TestClient) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        hub = network.create_store(
            session=s, code="SH-DC-01", kind=StoreKind.DELIVERY_CENTRE, name_en="Shanghai Delivery Centre",
            name_zh="上海交付中心", city="Shanghai", province="Shanghai",
        )  # fmt: skip
        other = network.create_store(
            session=s, code="BJ-ST-01", kind=StoreKind.STORE, name_en="Beijing Store", name_zh="北京门店",
            city="Beijing", province="Beijing",
        )  # fmt: skip
        for username, role, sid in (
            ("hq", Role.HQ_OPS, None), ("store1", Role.STORE_STAFF, hub.id),
            ("cust", Role.STORE_STAFF, other.id),
        ):  # fmt: skip
            accounts.create_staff(
                session=s, actor=None, username=username, display_name=username.title(), password=PASSWORD,
                role=role, store_id=sid,
            )  # fmt: skip


def _sign_in(client: TestClient, username: str) -> str:
    client.cookies.clear()
    token = client.post(
        "/api/v1/auth/staff/sign-in", json={"username": username, "password": PASSWORD}
    ).json()["token"]
    client.cookies.set("carloop_session", token)
    return csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]


def _form(csrf: str, **over: object) -> dict[str, object]:
    form: dict[str, object] = {
        "csrf_token": csrf, "code": "SH-ST-09", "kind": "store", "name_zh": "上海静安门店",
        "name_en": "Shanghai Jing'an Store", "city": "Shanghai", "province": "Shanghai",
        "address": "南京西路 1601 号", "latitude": "31.2243", "longitude": "121.4460", "hub_code": "SH-DC-01",
        "opens": "09:30", "closes": "20:00", "service_bays": "2", "technicians": "3", "delivery_bays": "0",
        "storage_capacity": "0", "demo_model": ["su7", "yu7"], "demo_cars": ["2", "0"],
    }  # fmt: skip
    form.update(over)
    return form


@pytest.mark.usefixtures("staff")
def test_hq_creates_a_satellite_with_hours_and_a_demo_car_and_it_is_public_and_audited(
    client: TestClient,
) -> None:
    csrf = _sign_in(client, "hq")
    page = client.get("/staff/stores/new?lang=zh-CN", headers=HTML)
    assert page.status_code == 200 and "新建网点" in page.text and "所属枢纽" in page.text
    made = client.post("/staff/stores", data=_form(csrf), headers=HTML, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/staff/stores/SH-ST-09?saved=1"
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        store = s.scalar(select(Store).where(Store.code == "SH-ST-09"))
        assert store is not None and (store.opens_minute, store.closes_minute) == (570, 1200)
        hub = s.scalar(select(Store).where(Store.code == "SH-DC-01"))
        assert hub is not None and store.hub_id == hub.id
        assert {c.model: c.cars for c in store.demo_cars} == {"su7": 2}
        audited = s.scalars(select(AuditEntry).where(AuditEntry.action == "network.store.create")).all()
        assert [a.target_id for a in audited] == ["SH-ST-09"]
    public = client.get("/stores/SH-ST-09?lang=zh-CN", headers=HTML)
    assert "09:30-20:00" in public.text and "南京西路 1601 号" in public.text
    assert 'href="geo:31.2243,121.446' in public.text and "在地图应用中打开" in public.text
    listed = client.get("/staff/stores?lang=zh-CN", headers=HTML)
    assert "SH-ST-09" in listed.text and "门店网络" in listed.text


@pytest.mark.usefixtures("staff")
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"opens": "21:00", "closes": "09:00"}, "网点的关门时间须晚于开门时间"),
        ({"opens": "9 am"}, "请按 HH:MM 格式填写营业时间"),
        ({"hub_code": "BJ-ST-01"}, "卫星网点的枢纽必须是交付中心"),
        ({"kind": "delivery_centre"}, "交付中心本身就是枢纽"),
        ({"kind": "service_outlet", "hub_code": ""}, "只有提供试驾服务的网点才能配置试驾车"),
        ({"code": "bad code"}, "请检查编码"),
        ({"latitude": "north"}, "请检查编码"),
        ({"code": "BJ-ST-01", "hub_code": ""}, "编码"),
    ],
)
def test_a_bad_outlet_is_refused_with_the_reason_and_nothing_is_written(
    client: TestClient, change: dict[str, object], message: str
) -> None:
    csrf = _sign_in(client, "hq")
    refused = client.post("/staff/stores?lang=zh-CN", data=_form(csrf, **change), headers=HTML)
    assert refused.status_code in (409, 422) and message in refused.text
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(Store).where(Store.code == "SH-ST-09")) is None


@pytest.mark.usefixtures("staff")
def test_store_staff_keep_their_own_outlet_only(client: TestClient) -> None:
    csrf = _sign_in(client, "store1")
    assert client.get("/staff/stores/BJ-ST-01", headers=HTML).status_code == 404
    assert client.get("/staff/stores/new", headers=HTML).status_code == 403
    assert client.post("/staff/stores", data=_form(csrf), headers=HTML).status_code == 403
    own = {
        **_form(csrf), "code": "SH-DC-01", "kind": "delivery_centre", "hub_code": "",
        "name_zh": "上海交付中心", "name_en": "Shanghai Delivery Centre", "opens": "08:00", "closes": "22:00",
    }  # fmt: skip
    saved = client.post("/staff/stores/SH-DC-01", data=own, headers=HTML, follow_redirects=False)
    assert saved.status_code == 303
    promoted = client.post("/staff/stores/SH-DC-01", data={**own, "kind": "store"}, headers=HTML)
    assert promoted.status_code == 403  # only HQ changes the kind
    other = client.post("/staff/stores/BJ-ST-01", data={**own, "code": "BJ-ST-01"}, headers=HTML)
    assert other.status_code == 404
    forged = client.post("/staff/stores/SH-DC-01", data={**own, "csrf_token": "x"}, headers=HTML)
    assert forged.status_code == 403
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        store = s.scalar(select(Store).where(Store.code == "SH-DC-01"))
        assert store is not None and (store.opens_minute, store.closes_minute, store.kind) == (
            480,
            1320,
            StoreKind.DELIVERY_CENTRE,
        )
        assert s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == "SH-DC-01")).all() == [
            "network.store.update"
        ]


@pytest.mark.usefixtures("staff")
@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "castle"},
        {"code": "X" * 33},
        {"technicians": "-1"},
        {"demo_cars": ["two"]},
        {"name_zh": None},
    ],
    ids=["kind", "code-length", "negative-count", "demo-count", "missing-name"],
)
def test_a_malformed_outlet_form_is_a_problem_naming_the_field_and_saves_nothing(
    client: TestClient, bad: dict[str, object]
) -> None:
    csrf = _sign_in(client, "hq")
    form = {k: v for k, v in _form(csrf, **bad).items() if v is not None}
    response = client.post("/staff/stores", data=form, headers={"Accept": "application/problem+json"})
    assert response.status_code == 422, response.text
    field = next(iter(bad))
    assert field in response.text
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(Store.id).where(Store.code == "SH-ST-09")) is None

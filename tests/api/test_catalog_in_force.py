"""The storefront shows the catalog version and deposit terms HQ put in force in the console."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.catalog import service as catalog
from carloop.catalog.schemas import ConfigurationIn
from carloop.money import format_fen
from carloop.web.deps import csrf_token_for

PASSWORD = "a-long-test-password-1"
HTML = {"Accept": "text/html"}


@pytest.fixture
def ops(client: TestClient) -> str:
    """An HQ operator signed in with a cookie like a browser; the form token."""
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        accounts.create_staff(
            session=s, actor=None, username="ops", display_name="Ops", password=PASSWORD, role=Role.HQ_OPS,
            store_id=None,
        )  # fmt: skip
    token = client.post("/api/v1/auth/staff/sign-in", json={"username": "ops", "password": PASSWORD}).json()[
        "token"
    ]
    client.cookies.set("carloop_session", token)
    return csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]


def _total(page: str) -> str:
    return page.split('data-testid="total">')[1].split("</span>")[0]


def _money(fen: int, locale: str = "en") -> str:
    return format_fen(fen, locale)


def test_activating_a_version_in_the_console_changes_the_configurator(client: TestClient, ops: str) -> None:
    oldest, newest = catalog.list_versions()[0], catalog.list_versions()[-1]
    pro = ConfigurationIn(model="su7", trim="pro")
    old_total = catalog.quote(config=pro, version=oldest).total_fen
    new_total = catalog.quote(config=pro, version=newest).total_fen
    assert old_total != new_total  # the two sample versions price the same car differently
    models_before = client.get("/models", params={"lang": "en"}, headers=HTML).text
    before = client.get("/configure/su7", params={"trim": "pro", "lang": "en"}, headers=HTML)
    assert _total(before.text) == _money(new_total)
    assert "/configure/yu7" in models_before  # the newest version has a second model

    done = client.post(
        "/console/catalog/activate", data={"csrf_token": ops, "version": oldest}, follow_redirects=False
    )
    assert done.status_code == 303
    after = client.get("/configure/su7", params={"trim": "pro", "lang": "en"}, headers=HTML)
    assert _total(after.text) == _money(old_total)
    assert "/configure/yu7" not in client.get("/models", params={"lang": "en"}, headers=HTML).text
    assert client.get("/configure/yu7", headers=HTML).status_code == 404  # not in the version in force
    api = client.post("/api/v1/catalog/price", json={"model": "su7", "trim": "pro"}).json()
    assert api["total_fen"] == old_total and api["catalog_version"] == oldest
    assert client.get("/api/v1/catalog").json()["version"] == oldest
    explicit = client.post("/api/v1/catalog/price", params={"version": newest}, json=pro.model_dump()).json()
    assert explicit["total_fen"] == new_total


def test_deposit_terms_set_in_the_console_show_on_the_model_page_and_configurator(
    client: TestClient, ops: str
) -> None:
    catalog_deposit = catalog.get_model("su7").trims["pro"].deposit.amount_fen
    assert catalog_deposit != 300_000
    page = client.get("/models/su7", params={"lang": "en"}, headers=HTML).text
    assert _money(catalog_deposit) in page and _money(300_000) not in page
    form = {"csrf_token": ops, "model": "su7", "trim": "pro", "amount_yuan": "3000", "refundable_hours": "48"}
    assert client.post("/console/policy", data=form, follow_redirects=False).status_code == 303
    model_page = client.get("/models/su7", params={"lang": "en"}, headers=HTML).text
    pro_card = model_page.split('data-testid="configure-pro"')[0].rsplit("<article", 1)[1]
    assert _money(300_000) in pro_card and "48 hours" in pro_card
    configure = client.get("/configure/su7", params={"trim": "pro", "lang": "en"}, headers=HTML).text
    shown = configure.split('data-deposit-for="pro"')[1].split("</p>")[0]
    assert _money(300_000) in shown
    other = configure.split('data-deposit-for="max"')[1].split("</p>")[0]
    assert _money(300_000) not in other  # the override is the pro trim's only
    quote = client.post("/api/v1/catalog/price", json={"model": "su7", "trim": "pro"}).json()
    assert quote["deposit"]["amount_fen"] == 300_000 and quote["deposit"]["refundable_hours"] == 48
    described = client.get("/api/v1/catalog/models/su7").json()
    assert {t["code"]: t["deposit"]["amount_fen"] for t in described["trims"]}["pro"] == 300_000

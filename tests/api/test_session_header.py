"""The header shows who is signed in on every page, error pages too; staff land on the console."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role

HTML = {"Accept": "text/html"}
PASSWORD = "a-long-test-password-1"
PUBLIC_PAGES = ["/", "/models", "/models/su7", "/configure/su7", "/community/roadmap", "/no-such-page"]


def _customer(client: TestClient) -> None:
    code = client.post("/api/v1/auth/code", json={"phone": "13800138000"}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": "13800138000", "code": code}).json()["token"]
    client.cookies.set("carloop_session", token)


def _staff(client: TestClient) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        accounts.create_staff(
            session=s, actor=None, username="ops", display_name="Ops", password=PASSWORD, role=Role.HQ_OPS,
            store_id=None,
        )  # fmt: skip


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_a_signed_in_customer_sees_their_orders_link_on_every_page(client: TestClient, path: str) -> None:
    anonymous = client.get(f"{path}?lang=en", headers=HTML)
    assert 'data-testid="nav-orders"' not in anonymous.text
    assert 'href="/login"' in anonymous.text
    _customer(client)
    page = client.get(f"{path}?lang=en", headers=HTML)
    assert page.status_code in (200, 404)
    assert 'data-testid="nav-orders"' in page.text
    assert ">Sign out<" in page.text
    assert 'href="/login"' not in page.text.split("</header>")[0]


def test_staff_signing_in_land_on_the_console_and_the_header_links_there(client: TestClient) -> None:
    _staff(client)
    form = client.get("/staff/login?lang=en", headers=HTML).text
    found = re.search(r'name="login_csrf" value="([^"]+)"', form)
    assert found
    assert 'name="next" value="/console"' in form
    done = client.post(
        "/staff/login",
        data={"username": "ops", "password": PASSWORD, "login_csrf": found.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/console"
    home = client.get("/?lang=en", headers=HTML).text
    assert 'href="/console" data-testid="nav-console"' in home
    assert 'href="/staff"' not in home


def test_staff_asked_for_a_page_go_to_that_page(client: TestClient) -> None:
    _staff(client)
    form = client.get("/staff/login?lang=en&next=/staff/orders", headers=HTML).text
    found = re.search(r'name="login_csrf" value="([^"]+)"', form)
    assert found
    done = client.post(
        "/staff/login",
        data={"username": "ops", "password": PASSWORD, "login_csrf": found.group(1), "next": "/staff/orders"},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/staff/orders"


def test_the_favicon_is_served(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert 'rel="icon"' in client.get("/", headers=HTML).text

"""The launch queue from the storefront: join it, wait in the waiting room, retry without double charges."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from carloop.ordering.intake.asgi import IntakeApp
from carloop.ordering.intake.rules import id_number_with_check
from carloop.ordering.intake.writer import WriterConfig
from carloop.settings import Settings
from carloop.web.app import create_app

HTML = {"Accept": "text/html"}


def sign_in(client: TestClient) -> str:
    """A signed-in browser; returns the bearer token."""
    code = client.post("/api/v1/auth/code", json={"phone": "13800138000"}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": "13800138000", "code": code}).json()["token"]
    client.cookies.set("carloop_session", token)
    return str(token)


def checkout_form(client: TestClient, query: str) -> dict[str, str]:
    """The hidden fields of the checkout page's launch-queue form."""
    page = client.get(f"/checkout?{query}", headers=HTML).text
    form = page[page.index('action="/launch/reserve"') :]
    return dict(re.findall(r'name="(\w+)" value="([^"]*)"', form[: form.index("</form>")]))


def test_joining_the_launch_queue_takes_the_deposit_and_shows_the_order(client: TestClient) -> None:
    token = sign_in(client)
    fields = checkout_form(client, "model=su7&trim=pro")
    response = client.post("/launch/reserve", data=fields, headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/orders/SU7-")
    again = client.post("/launch/reserve", data=fields, headers=HTML, follow_redirects=False)
    assert again.headers["location"] == response.headers["location"]  # a double submit: the same order
    orders = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"}).json()
    assert len(orders) == 1 and orders[0]["status"] == "reserved"


def test_a_limited_edition_needs_a_valid_identity_number(client: TestClient) -> None:
    sign_in(client)
    fields = checkout_form(client, "model=su7&trim=founders")
    refused = client.post("/launch/reserve", data={**fields, "id_number": "110105194912310021"}, headers=HTML)
    assert refused.status_code == 422 and 'data-testid="waiting-problem"' in refused.text
    fine = {**fields, "id_number": id_number_with_check("11010519491231002")}
    response = client.post("/launch/reserve", data=fine, headers=HTML, follow_redirects=False)
    assert response.status_code == 303


def test_a_limited_edition_is_offered_only_through_the_launch_queue(client: TestClient) -> None:
    sign_in(client)
    edition = client.get("/checkout?model=su7&trim=founders", headers=HTML).text
    plain = client.get("/checkout?model=su7&trim=pro", headers=HTML).text
    assert 'data-testid="place-order"' not in edition and 'data-testid="id-number"' in edition
    assert 'data-testid="place-order"' in plain


def test_a_full_queue_shows_the_waiting_room_which_retries_with_the_same_key(
    settings: Settings, engine: object, session_factory: sessionmaker[Session]
) -> None:
    app = IntakeApp(create_app(settings), WriterConfig(max_pending=0))
    with TestClient(app) as client:
        sign_in(client)
        fields = checkout_form(client, "model=su7&trim=pro")
        response = client.post("/launch/reserve", data=fields, headers=HTML)
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    page = response.text
    assert 'data-testid="waiting-room"' in page and 'id="waiting-retry"' in page
    assert f'name="form_key" value="{fields["form_key"]}"' in page  # the retry repeats the same request
    assert 'name="attempt" value="2"' in page and "/static/ordering.js" in page

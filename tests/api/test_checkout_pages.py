"""Reserving from the storefront: every model and the numbered edition, one form, pay through the
provider, a double submit lands on the same order."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from carloop.ordering.editions import id_number_with_check

HTML = {"Accept": "text/html"}


def sign_in(client: TestClient, phone: str = "13800138000") -> str:
    """A signed-in browser; returns the bearer token."""
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    client.cookies.set("carloop_session", token)
    return str(token)


def checkout_form(client: TestClient, query: str) -> dict[str, str]:
    """The hidden fields of the checkout page's reservation form."""
    page = client.get(f"/checkout?{query}", headers=HTML).text
    form = page[page.index('data-testid="reserve-form"') :]
    return dict(re.findall(r'name="(\w+)" value="([^"]*)"', form[: form.index("</form>")]))


def simulator_pay(client: TestClient, pay_url: str) -> str:
    """Open the pay link, pay on the simulator's page; returns where the buyer lands."""
    cashier = client.get(pay_url, headers=HTML, follow_redirects=False)
    assert cashier.status_code == 303 and cashier.headers["location"].startswith("/pay/simulator/")
    page = client.get(cashier.headers["location"], headers=HTML).text
    paid = page[: page.index('data-testid="sim-pay"')]
    paid = paid[paid.rindex("<form") :]
    action = re.search(r'action="([^"]+)"', paid)
    assert action is not None
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', paid))
    back = client.post(action.group(1).replace("&amp;", "&"), data=fields, follow_redirects=False)
    assert back.status_code == 303
    return str(back.headers["location"])


def test_reserving_holds_the_place_then_paying_reserves_the_order(client: TestClient) -> None:
    token = sign_in(client)
    fields = checkout_form(client, "model=su7&trim=pro")
    response = client.post("/orders", data=fields, headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/pay/P")
    again = client.post("/orders", data=fields, headers=HTML, follow_redirects=False)
    assert again.headers["location"] == response.headers["location"]  # a double submit: the same order
    orders = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"}).json()
    assert len(orders) == 1 and orders[0]["status"] == "pending_payment"
    landed = simulator_pay(client, response.headers["location"])
    assert landed == f"/orders/{orders[0]['number']}"
    orders = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"}).json()
    assert orders[0]["status"] == "reserved"


def test_a_numbered_edition_is_bought_from_checkout_with_a_valid_identity_number(client: TestClient) -> None:
    token = sign_in(client)
    page = client.get("/checkout?model=su7&trim=founders", headers=HTML).text
    assert 'data-testid="place-order"' in page and 'data-testid="id-number"' in page
    fields = checkout_form(client, "model=su7&trim=founders")
    refused = client.post(
        "/orders", data={**fields, "id_number": "110105194912310021", "real_name": "张三"}, headers=HTML
    )
    assert refused.status_code == 422 and 'data-testid="reserve-error"' in refused.text
    fine = {**fields, "id_number": id_number_with_check("11010519491231002"), "real_name": "张三"}
    response = client.post("/orders", data=fine, headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    simulator_pay(client, response.headers["location"])
    (order,) = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"}).json()
    assert (order["status"], order["edition_number"]) == ("locked", 1)
    # The same person cannot hold a second one (the edition's per-identity limit), from any account.
    sign_in(client, "13800138001")
    other = checkout_form(client, "model=su7&trim=founders")
    second = client.post(
        "/orders", data={**other, "id_number": fine["id_number"], "real_name": "张三"}, headers=HTML
    )
    assert second.status_code == 409 and 'data-testid="reserve-error"' in second.text


def test_only_the_payer_sees_a_payments_pages(client: TestClient) -> None:
    sign_in(client)
    fields = checkout_form(client, "model=su7&trim=pro")
    pay_url = client.post("/orders", data=fields, headers=HTML, follow_redirects=False).headers["location"]
    sign_in(client, "13800138001")
    assert client.get(pay_url, headers=HTML, follow_redirects=False).status_code == 404
    assert client.get(pay_url.replace("/pay/", "/pay/simulator/"), headers=HTML).status_code == 404

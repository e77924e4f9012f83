"""Staff screens for work: order search with customers and links, the plan as a form, a labelled chart."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.test_orders import reserve
from tests.api.test_production import locked_order, sign_in, staff

HTML = {"Accept": "text/html"}


def _as_staff(client: TestClient) -> None:
    ops = staff(client)
    client.cookies.set("carloop_session", ops["Authorization"].removeprefix("Bearer "))


def test_order_search_shows_the_buyer_links_the_order_and_finds_by_phone(client: TestClient) -> None:
    mine = reserve(client, sign_in(client, "13800138000"))["order"]["number"]
    theirs = reserve(client, sign_in(client, "13900139000"))["order"]["number"]
    _as_staff(client)
    page = client.get("/staff/orders?lang=en", headers=HTML).text
    assert f'href="/staff/orders/{mine}" data-testid="staff-order-link"' in page
    assert "138****8000" in page and "139****9000" in page
    by_phone = client.get("/staff/orders?lang=en&q=13800138000", headers=HTML).text
    assert mine in by_phone and theirs not in by_phone
    nobody = client.get("/staff/orders?lang=en&q=13700137000", headers=HTML).text
    assert mine not in nobody and "No orders found." in nobody


def _form_fields(html: str) -> dict[str, str]:
    """The plan form's inputs as a browser would post them (text inputs and selected options)."""
    form = html.split('data-testid="plan-form"')[1].split("</form>")[0]
    fields = {m[1]: m[2] for m in re.finditer(r'<input type="[a-z]+" name="([^"]+)" value="([^"]*)"', form)}
    for select in re.finditer(r'<select name="([^"]+)".*?</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]+)" selected', select[0])
        fields[select[1]] = chosen[1] if chosen else "trim"
    fields["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]  # type: ignore[index]
    return fields


def test_the_plan_is_edited_as_a_form_and_the_chart_has_axes(client: TestClient) -> None:
    locked_order(client, sign_in(client, "13800138000"))
    _as_staff(client)
    page = client.get("/staff/production?lang=en", headers=HTML)
    assert "Cars per week" in page.text and "Week starting" in page.text and "Run time (ms)" in page.text
    assert ">ms<" not in page.text
    fields = _form_fields(page.text)
    before = client.get("/api/v1/production/plan", headers={"Authorization": ""}).status_code
    assert before in (401, 403)
    fields["line.0.weekly_capacity"] = "1234"
    refused = client.post("/staff/production/plan", data={**fields, "reason": "x"}, headers=HTML)
    assert refused.status_code == 422 and 'value="1234"' in refused.text  # shown back as typed
    saved = client.post(
        "/staff/production/plan",
        data={**fields, "reason": "more shifts"},
        headers=HTML,
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    again = client.get("/staff/production?lang=en", headers=HTML).text
    assert 'name="line.0.weekly_capacity" value="1234"' in again
    assert "Plan v" in again and "more shifts" in again

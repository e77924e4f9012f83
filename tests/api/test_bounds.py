"""Bounded input, as an attacker would send it: ids past 64 bits, empty quotes, huge bodies, a forged
Host header, formula cells in exports and a ``//host/...`` path echoed into links."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role
from carloop.analytics.export import safe_cell, to_csv
from carloop.analytics.warehouse import Table
from carloop.web.deps import csrf_token_for

HTML = {"Accept": "text/html"}
HUGE_IDS = [str(2**63), "9" * 40, "-" + "9" * 30]
PASSWORD = "a-long-test-password-1"


def _buyer(client: TestClient, phone: str = "13800138000") -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    return body


@pytest.mark.parametrize("raw", HUGE_IDS)
def test_an_id_past_64_bits_is_a_404_problem_on_api_and_pages(client: TestClient, raw: str) -> None:
    headers = _buyer(client)
    _problem(client.get(f"/api/v1/suggestions/{raw}", headers=headers), 404)
    page = client.get(f"/community/suggestions/{raw}", headers=HTML)
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]


def test_the_largest_64_bit_id_is_an_ordinary_not_found(client: TestClient) -> None:
    headers = _buyer(client)
    body = _problem(client.get(f"/api/v1/suggestions/{2**63 - 1}", headers=headers), 404)
    assert body["code"] == "not-found"


def test_a_query_number_past_64_bits_is_a_422_problem(client: TestClient) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        accounts.create_staff(
            session=s, actor=None, username="root-of-trust", display_name="Admin", password=PASSWORD,
            role=Role.ADMIN, store_id=None,
        )  # fmt: skip
    token = client.post(
        "/api/v1/auth/staff/sign-in", json={"username": "root-of-trust", "password": PASSWORD}
    ).json()["token"]
    response = client.get(
        "/api/v1/staff", params={"store_id": "9" * 25}, headers={"Authorization": f"Bearer {token}"}
    )
    assert _problem(response, 422)["field"] == "store_id"


@pytest.mark.parametrize("query", ["model=&trim=pro", "model=su7&trim=", "model=&trim="])
def test_an_eta_quote_with_an_empty_model_or_trim_is_a_422_problem(client: TestClient, query: str) -> None:
    _problem(client.get(f"/api/v1/production/eta?{query}"), 422)


def test_a_body_over_the_limit_is_a_413_problem_before_any_handler_runs(client: TestClient) -> None:
    limit = client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
    big = b'{"phone": "' + b"1" * (limit + 1) + b'"}'
    body = _problem(
        client.post("/api/v1/auth/code", content=big, headers={"Content-Type": "application/json"}), 413
    )
    assert body["code"] == "body-too-large"


def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(client: TestClient) -> None:
    limit = client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]

    def chunks() -> Iterator[bytes]:
        yield b'{"phone": "'
        for _ in range(limit // 65536 + 2):
            yield b"1" * 65536
        yield b'"}'

    response = client.post(
        "/api/v1/auth/code", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert _problem(response, 413)["code"] == "body-too-large"


def test_a_body_under_the_limit_is_served(client: TestClient) -> None:
    response = client.post("/api/v1/auth/code", json={"phone": "13800138000", "pad": "x" * 10_000})
    assert response.status_code == 422  # extra fields are refused by the schema, not by the limit


def test_payment_urls_come_from_public_base_url_not_the_host_header(client: TestClient) -> None:
    provider = client.app.state.payment_provider.get("simulator")  # type: ignore[attr-defined]
    seen: list[tuple[str, str]] = []
    real_start = provider.start_payment

    def recording_start(**kwargs: Any) -> Any:
        seen.append((kwargs["return_url"], kwargs["notify_url"]))
        return real_start(**kwargs)

    provider.start_payment = recording_start
    headers = {**_buyer(client), "Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    config = {"configuration": {"model": "su7", "trim": "pro", "options": []}}
    response = client.post("/api/v1/orders", json=config, headers=headers)
    assert response.status_code == 201, response.text
    payment = response.json()["payment"]
    if not seen:  # the provider's cashier is signed when the buyer opens our pay link
        opened = client.get(f"/pay/{payment['trade_no']}", headers=headers, follow_redirects=False)
        assert opened.status_code == 303, opened.text
    public = client.app.state.settings.public_base_url.rstrip("/")  # type: ignore[attr-defined]
    [(return_url, notify_url)] = seen
    assert notify_url == f"{public}/api/v1/payments/notify/simulator"
    assert return_url.startswith(public + "/orders/")
    assert "evil.example" not in payment["pay_url"]


def test_no_code_builds_urls_from_the_request_host() -> None:
    from pathlib import Path

    import carloop

    root = Path(carloop.__file__).parent
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if re.search(r"request\.base_url|headers\.get\(\"host\"", p.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "build outward links from public_base_url (carloop.web.deps.public_base_url)"


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x","y")', "+1+1", "-1+A1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_would_start_a_formula_are_escaped(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell
    parsed = list(csv.reader(io.StringIO(to_csv(Table(["brand"], [[cell]])).decode("utf-8-sig"))))
    assert parsed[1][0] == "'" + cell


def test_numbers_and_plain_text_stay_as_they_are_in_csv() -> None:
    assert [safe_cell(v) for v in (-5, 3.5, "BYD", "小米")] == [-5, 3.5, "BYD", "小米"]


def test_a_market_export_does_not_carry_an_imported_formula(client: TestClient) -> None:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        accounts.create_staff(
            session=s, actor=None, username="hq-analyst", display_name="HQ", password=PASSWORD,
            role=Role.HQ_OPS, store_id=None,
        )  # fmt: skip
    token = client.post(
        "/api/v1/auth/staff/sign-in", json={"username": "hq-analyst", "password": PASSWORD}
    ).json()["token"]
    client.cookies.set("carloop_session", token)
    csrf = csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]
    upload = 'month,brand,units\n2026-10,"=HYPERLINK(""http://evil.example"",""x"")",1000\n2026-10,BYD,5000\n'
    response = client.post(
        "/console/analytics/market",
        data={"csrf_token": csrf},
        files={"file": ("market.csv", upload.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    exported = client.get("/console/analytics/export/market_shares.csv")
    assert exported.status_code == 200
    cells = [c for row in csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))) for c in row]
    assert any("HYPERLINK" in c for c in cells)
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


@pytest.mark.parametrize("path", ["//evil.example/x", "///evil.example/x", "/\\evil.example/x"])
def test_language_links_on_a_404_page_stay_on_this_site(client: TestClient, path: str) -> None:
    page = client.get("http://testserver" + path, headers=HTML)  # the raw path, not a host
    assert page.status_code == 404 and page.request.url.path == path
    links = re.findall(r'href="([^"]*lang=[^"]*)"', page.text)
    assert len(links) == 2, page.text[:500]
    for link in links:
        assert link.startswith("/") and not link.startswith(("//", "/\\")), link


def test_a_nul_in_a_path_or_query_value_is_a_problem_not_a_database_error(client: TestClient) -> None:
    _problem(client.get("/api/v1/stores/BJ%00"), 404)
    _problem(client.get("/api/v1/stores/BJ-DC-01/slots?date=%00"), 422)


NOT_ASCII = ["１２３", "é" * 32, "令牌"]  # hmac.compare_digest raises TypeError on such str


@pytest.mark.parametrize("forged", NOT_ASCII)
def test_an_anti_forgery_token_outside_ascii_is_refused_not_a_500(client: TestClient, forged: str) -> None:
    client.cookies.set("carloop_session", _buyer(client)["Authorization"].removeprefix("Bearer "))
    form = {"csrf_token": forged, "title": "夜间模式更暗一些", "body": "", "category": "app"}
    page = client.post("/community/suggestions", data=form, headers=HTML, follow_redirects=False)
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
    client.cookies.clear()
    client.get("/login", headers=HTML)  # the device cookie the sign-in forms' tokens are made for
    form = {"login_csrf": forged, "phone": "13800138000", "code": "123456", "username": "u", "password": "p"}
    for path in ("/login/code", "/login", "/staff/login"):
        page = client.post(path, data=form, headers=HTML, follow_redirects=False)
        assert page.status_code == 403, (path, page.status_code, page.text[:200])


@pytest.mark.parametrize("raw", HUGE_IDS)
def test_an_id_past_64_bits_in_a_body_or_a_form_is_a_422_not_a_500(client: TestClient, raw: str) -> None:
    headers = {**_buyer(client), "Content-Type": "application/json"}
    report = f'{{"target_type": "post", "target_id": {raw}, "reason": "spam"}}'
    body = _problem(client.post("/api/v1/forum/reports", content=report, headers=headers), 422)
    assert "target_id" in str(body)
    client.cookies.set("carloop_session", headers["Authorization"].removeprefix("Bearer "))
    csrf = csrf_token_for(client.app.state.settings, client.cookies["carloop_session"])  # type: ignore[attr-defined]
    form = {"csrf_token": csrf, "device_id": raw, "destination": "office"}
    page = client.post("/ecosystem/phone/destination", data=form, headers=HTML, follow_redirects=False)
    assert page.status_code == 422, page.text[:300]


def _hq(client: TestClient) -> str:
    with client.app.state.sessions.begin() as s:  # type: ignore[attr-defined]
        accounts.create_staff(
            session=s, actor=None, username="hq-calendar", display_name="HQ", password=PASSWORD,
            role=Role.HQ_OPS, store_id=None,
        )  # fmt: skip
    reply = client.post("/api/v1/auth/staff/sign-in", json={"username": "hq-calendar", "password": PASSWORD})
    return str(reply.json()["token"])


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "0001-01-01T00:00:00+14:00"])
def test_a_day_at_the_ends_of_the_calendar_is_a_422_problem_not_a_500(client: TestClient, day: str) -> None:
    """Midnight of 0001-01-01 in Shanghai is before datetime.min in UTC (OverflowError)."""
    token = _hq(client)
    staff = {"Authorization": f"Bearer {token}"}
    for path, field in (
        (f"/api/v1/analytics/dashboard?date_from={day}", "date_from"),
        (f"/api/v1/analytics/dashboard?date_to={day}", "date_to"),
        (f"/api/v1/stores/BJ-01/calendar?day={day}", "day"),
    ):
        assert _problem(client.get(path.replace("+", "%2B"), headers=staff), 422)["field"] == field
    event = {
        "kind": "seminar",
        "title_zh": "技术讲座",
        "title_en": "Seminar",
        "capacity": 10,
        "starts_at": day,
    }
    if "T" in day:
        _problem(client.post("/api/v1/staff/events", json=event, headers=staff), 422)
    client.cookies.set("carloop_session", token)
    for page in (f"/staff/calendar?day={day}", f"/console/audit?date_from={day}&date_to={day}"):
        assert client.get(page.replace("+", "%2B"), headers=HTML).status_code == 422, page
    assert client.get(f"/console/analytics?date_from={day}&date_to={day}", headers=HTML).status_code == 200
    client.cookies.clear()
    buyer = _buyer(client)
    path = f"/api/v1/ecosystem/drives?day={day.replace('+', '%2B')}"
    assert _problem(client.delete(path, headers=buyer), 422)["field"] == "day"
    client.cookies.set("carloop_session", buyer["Authorization"].removeprefix("Bearer "))
    csrf = csrf_token_for(client.app.state.settings, client.cookies["carloop_session"])  # type: ignore[attr-defined]
    page = client.post("/ecosystem/drives/delete", data={"csrf_token": csrf, "day": day}, headers=HTML)
    assert page.status_code == 422, page.text[:300]


FAR_DAYS = ["0001-01-01", "9999-12-31"]
INVALID = {"en": "Invalid input: {}.", "zh-CN": "输入无效：{}。"}


def _refused(response: object, field: str, lang: str) -> None:
    """A 422 problem whose detail, in the asked language, names ``field`` and only it."""
    body = _problem(response, 422)
    assert body["detail"] == INVALID[lang].format(field), body
    assert [e["field"] for e in body["errors"]] == [field]  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("day", FAR_DAYS)
def test_a_far_date_in_a_json_body_is_a_422_naming_the_field(client: TestClient, day: str, lang: str) -> None:
    buyer = {**_buyer(client), "Accept-Language": lang}
    response = client.post("/api/v1/ecosystem/scenes/1/dry-run", json={"day": day}, headers=buyer)
    _refused(response, "body.day", lang)
    staff = {"Authorization": f"Bearer {_hq(client)}", "Accept-Language": lang}
    outage = {"target": "*", "start": day, "weeks": 1, "remaining": 0}
    plan = {"plan": {"lines": [], "caps": [], "outages": [outage]}}
    body = _problem(client.put("/api/v1/production/plan", json=plan, headers=staff), 422)
    assert "body.plan.outages.0.start" in [e["field"] for e in body["errors"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("day", FAR_DAYS)
def test_a_far_moment_in_a_json_body_is_a_422_naming_the_field(
    client: TestClient, day: str, lang: str
) -> None:
    buyer = {**_buyer(client), "Accept-Language": lang}
    moment = f"{day}T00:00:00+08:00"
    booking = {"kind": "test_drive", "store_code": "BJ-01", "starts_at": moment, "model": "su7"}
    _refused(client.post("/api/v1/appointments", json=booking, headers=buyer), "body.starts_at", lang)
    moved = client.post("/api/v1/appointments/1/reschedule", json={"starts_at": moment}, headers=buyer)
    _refused(moved, "body.starts_at", lang)
    staff = {"Authorization": f"Bearer {_hq(client)}", "Accept-Language": lang}
    wave = client.post(
        "/api/v1/staff/campaigns/x/opening-waves", json={"starts_at": f"{day}T00:00"}, headers=staff
    )
    _refused(wave, "body.starts_at", lang)


def _form_customer(client: TestClient) -> str:
    """Sign a buyer in as a browser would; their form's anti-forgery token."""
    client.cookies.set("carloop_session", _buyer(client)["Authorization"].removeprefix("Bearer "))
    return csrf_token_for(client.app.state.settings, client.cookies["carloop_session"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("day", FAR_DAYS)
def test_a_far_date_in_a_page_form_is_a_422_naming_the_field(client: TestClient, day: str, lang: str) -> None:
    form = {
        "csrf_token": _form_customer(client),
        "trim": "max",
        "total_fen": "100",
        "configuration": "SU7 Max",
        "form_key": "change-key-1",
        "latest_delivery": day,
    }
    response = client.post("/orders/SO-1/change", data=form, headers={"Accept-Language": lang})
    _refused(response, "body.latest_delivery", lang)
    page = client.post("/orders/SO-1/change", data=form, headers={**HTML, "Accept-Language": lang})
    assert page.status_code == 422 and "latest_delivery" in page.text


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("day", FAR_DAYS)
def test_a_far_moment_in_a_page_form_is_a_422_naming_the_field(
    client: TestClient, day: str, lang: str
) -> None:
    form = {"csrf_token": _form_customer(client), "kind": "test_drive", "store_code": "BJ-01"}
    booking = {**form, "starts_at": f"{day}T00:00", "model": "su7"}
    response = client.post("/appointments/book", data=booking, headers={"Accept-Language": lang})
    _refused(response, "body.starts_at", lang)
    token = _hq(client)
    client.cookies.set("carloop_session", token)
    csrf = csrf_token_for(client.app.state.settings, token)  # type: ignore[attr-defined]
    event = {"csrf_token": csrf, "kind": "seminar", "title_zh": "技术讲座", "title_en": "Seminar"}
    event |= {"starts_at": f"{day}T00:00", "capacity": "10"}
    body = _problem(client.post("/staff/events", data=event, headers={"Accept-Language": lang}), 422)
    assert body["field"] == "starts_at"
    assert body["detail"] == {"en": "This date is out of range.", "zh-CN": "这个日期超出了允许的范围。"}[lang]


@pytest.mark.parametrize(
    ("field", "value"), [("start", 1e12), ("start", -1e300), ("speed_kmh", 1e-300), ("speed_kmh", 1e308)]
)
def test_a_dry_runs_start_or_speed_out_of_bounds_is_a_422(
    client: TestClient, field: str, value: float
) -> None:
    """1e12 seconds is past year 9999 (a 500); a crawl recorded a sample a second for ever."""
    buyer = _buyer(client)
    response = client.post("/api/v1/ecosystem/scenes/1/dry-run", json={field: value}, headers=buyer)
    _refused(response, f"body.{field}", "en")

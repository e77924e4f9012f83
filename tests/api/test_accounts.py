"""Accounts over HTTP: code and password sign-in, me, sign-out, staff management and the pages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service
from carloop.accounts.models import LoginCode
from carloop.accounts.rules import CODE_MAX_ATTEMPTS
from carloop.accounts.schemas import Role
from carloop.audit import service as audit
from carloop.network import service as network
from carloop.network.schemas import StoreKind
from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.deps import SESSION_COOKIE

PHONE = "13800138000"
PASSWORD = "correct-horse-battery"
HTML = {"Accept": "text/html"}


def ask_code(client: TestClient, phone: str = PHONE) -> str:
    response = client.post("/api/v1/auth/code", json={"phone": phone})
    assert response.status_code == 202, response.text
    return str(response.json()["dev_code"])


def customer_headers(client: TestClient, phone: str = PHONE) -> dict[str, str]:
    code = ask_code(client, phone)
    response = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def staff_headers(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/staff/sign-in", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.fixture
def store_id(session_factory: sessionmaker[Session]) -> int:
    """A committed store, for store staff."""
    with session_factory.begin() as session:
        store = network.create_store(
            session=session,
            code="BJ-DC-01",
            kind=StoreKind.DELIVERY_CENTRE,
            name_en="Beijing Delivery Centre",
            name_zh="北京交付中心",
            city="Beijing",
            province="Beijing",
        )
        return store.id


@pytest.fixture
def staff_ids(session_factory: sessionmaker[Session], store_id: int) -> dict[str, int]:
    """Committed staff accounts: admin, ops and store1, all with the test password."""
    ids = {}
    with session_factory.begin() as session:
        for username, role, store in (
            ("admin", Role.ADMIN, None),
            ("ops", Role.HQ_OPS, None),
            ("store1", Role.STORE_STAFF, store_id),
        ):
            staff = service.create_staff(
                session=session,
                actor=None,
                username=username,
                display_name=username.title(),
                password=PASSWORD,
                role=role,
                store_id=store,
            )
            ids[username] = staff.id
    return ids


def client_for(settings: Settings, **changes: object) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update=changes)), raise_server_exceptions=False) as c:
        yield c


# --- JSON API ---------------------------------------------------------------------------------


def test_code_sign_in_me_and_sign_out(client: TestClient) -> None:
    headers = customer_headers(client, "138 0013 8000")
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["role"] == "customer"
    assert me.json()["phone"] == "+8613800138000"
    assert client.post("/api/v1/auth/sign-out", headers=headers).status_code == 204
    gone = client.get("/api/v1/me", headers=headers)
    assert gone.status_code == 401
    assert gone.headers["content-type"].startswith("application/problem+json")


def test_sign_in_answers_with_a_bearer_token_and_the_principal(client: TestClient) -> None:
    code = ask_code(client)
    body = client.post("/api/v1/auth/sign-in", json={"phone": PHONE, "code": code}).json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    assert body["principal"]["role"] == "customer"
    assert body["principal"]["display_name"] == "138****8000"


def test_the_code_is_in_the_reply_only_when_the_sender_is_the_page(
    settings: Settings, engine: object
) -> None:
    for c in client_for(settings, otp_sender="log"):
        response = c.post("/api/v1/auth/code", json={"phone": PHONE})
        assert response.status_code == 202
        assert response.json() == {"sent": True, "expires_in": settings.otp_ttl_seconds}


@pytest.mark.parametrize("path", ["/api/v1/auth/code", "/api/v1/auth/sign-in"])
@pytest.mark.parametrize("phone", ["12345", "23800138000", "", "+1 415 555 0100"])
def test_bad_phone_numbers_are_422_naming_phone(client: TestClient, path: str, phone: str) -> None:
    response = client.post(
        path, json={"phone": phone, "code": "123456"} if "sign-in" in path else {"phone": phone}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "phone"]
    assert "phone" in response.json()["detail"]


def test_unknown_fields_are_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/api/v1/auth/code", json={"phone": PHONE, "is_admin": True})
    assert response.status_code == 422
    assert "is_admin" in response.json()["detail"]


def test_malformed_body_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/sign-in", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_wrong_code_is_401_and_the_attempt_is_kept(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    code = ask_code(client)
    response = client.post("/api/v1/auth/sign-in", json={"phone": PHONE, "code": wrong(code)})
    assert response.status_code == 401
    assert response.json()["code"] == "authentication-failed"
    assert response.json()["attempts_left"] == CODE_MAX_ATTEMPTS - 1
    with session_factory() as session:
        assert session.scalars(select(LoginCode.attempts)).one() == 1  # committed despite the 401


def test_a_code_is_burnt_after_too_many_wrong_tries_over_http(settings: Settings, engine: object) -> None:
    for c in client_for(settings, login_attempts_per_window=100):
        code = ask_code(c)
        for _ in range(CODE_MAX_ATTEMPTS):
            assert (
                c.post("/api/v1/auth/sign-in", json={"phone": PHONE, "code": wrong(code)}).status_code == 401
            )
        last = c.post("/api/v1/auth/sign-in", json={"phone": PHONE, "code": code})
        assert last.status_code == 401
        assert "Too many wrong codes" in last.json()["detail"]


def test_the_sixth_code_request_is_429_with_retry_after(client: TestClient) -> None:
    for _ in range(5):
        ask_code(client)
    refused = client.post("/api/v1/auth/code", json={"phone": PHONE})
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate-limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 900


def test_the_sixth_staff_sign_in_is_429(client: TestClient, staff_ids: dict[str, int]) -> None:
    for _ in range(5):
        bad = client.post("/api/v1/auth/staff/sign-in", json={"username": "ops", "password": "nope"})
        assert bad.status_code == 401
        assert bad.json()["detail"] == "Wrong username or password."
    refused = client.post("/api/v1/auth/staff/sign-in", json={"username": "ops", "password": PASSWORD})
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers


def test_staff_sign_in_and_me(client: TestClient, staff_ids: dict[str, int], store_id: int) -> None:
    me = client.get("/api/v1/me", headers=staff_headers(client, "store1")).json()
    assert me["role"] == "store_staff"
    assert me["store_id"] == store_id
    assert me["username"] == "store1"
    assert me["phone"] is None


def test_admin_lists_creates_and_changes_staff_with_an_audit_trail(
    client: TestClient, staff_ids: dict[str, int], store_id: int, session_factory: sessionmaker[Session]
) -> None:
    admin = staff_headers(client, "admin")
    listed = client.get("/api/v1/staff", headers=admin)
    assert [s["username"] for s in listed.json()] == ["admin", "ops", "store1"]
    assert "password_hash" not in listed.json()[0]
    assert [s["username"] for s in client.get("/api/v1/staff?role=hq_ops", headers=admin).json()] == ["ops"]

    made = client.post(
        "/api/v1/staff",
        headers=admin,
        json={
            "username": "store9",
            "display_name": "Li",
            "password": PASSWORD,
            "role": "store_staff",
            "store_id": store_id,
        },
    )
    assert made.status_code == 201, made.text
    new_id = made.json()["id"]

    moved = client.patch(f"/api/v1/staff/{new_id}", headers=admin, json={"role": "hq_ops"})
    assert moved.status_code == 200
    assert (moved.json()["role"], moved.json()["store_id"]) == ("hq_ops", None)
    off = client.patch(f"/api/v1/staff/{new_id}", headers=admin, json={"active": False})
    assert off.json()["active"] is False

    with session_factory() as session:
        actions = [
            e.action for e in audit.list_entries(session=session, target_type="staff", target_id=new_id)
        ]
    assert actions == ["staff.updated", "staff.updated", "staff.created"]


def test_staff_changes_are_validated(client: TestClient, staff_ids: dict[str, int]) -> None:
    admin = staff_headers(client, "admin")
    no_store = client.post(
        "/api/v1/staff",
        headers=admin,
        json={"username": "store9", "display_name": "Li", "password": PASSWORD, "role": "store_staff"},
    )
    assert no_store.status_code == 422
    assert no_store.json()["field"] == "store_id"
    assert client.patch("/api/v1/staff/9999", headers=admin, json={"active": False}).status_code == 404
    bad_role = client.patch(f"/api/v1/staff/{staff_ids['ops']}", headers=admin, json={"role": "emperor"})
    assert bad_role.status_code == 422
    extra = client.patch(f"/api/v1/staff/{staff_ids['ops']}", headers=admin, json={"password_hash": "x"})
    assert extra.status_code == 422


@pytest.mark.parametrize("who", ["ops", "store1", "customer"])
def test_only_admins_manage_staff(client: TestClient, staff_ids: dict[str, int], who: str) -> None:
    headers = customer_headers(client) if who == "customer" else staff_headers(client, who)
    assert client.get("/api/v1/staff", headers=headers).status_code == 403
    assert (
        client.patch(f"/api/v1/staff/{staff_ids['ops']}", headers=headers, json={"role": "admin"}).status_code
        == 403
    )


# --- pages -----------------------------------------------------------------------------------


def dev_code(html: str) -> str:
    found = re.search(r'data-testid="dev-code">.*?<strong>(\d{6})</strong>', html, re.S)
    assert found, "no dev code on the page"
    return found.group(1)


def login_form(client: TestClient, fields: dict[str, str]) -> dict[str, str]:
    """``fields`` plus the sign-in forms' anti-forgery token, read from the page like a browser."""
    found = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login", headers=HTML).text)
    assert found, "no anti-forgery token on the sign-in page"
    return {**fields, "login_csrf": found.group(1)}


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no anti-forgery token on the page"
    return found.group(1)


def test_login_page_asks_for_a_phone(client: TestClient) -> None:
    page = client.get("/login?lang=en", headers=HTML)
    assert page.status_code == 200
    for testid in ("phone", "send-code", "staff-login-link"):
        assert f'data-testid="{testid}"' in page.text
    assert 'data-testid="code"' not in page.text


def test_login_page_speaks_chinese(client: TestClient) -> None:
    page = client.get("/login?lang=zh-CN", headers=HTML)
    assert "发送验证码" in page.text
    assert "员工登录" in page.text


def test_sending_a_code_shows_the_code_form_and_the_dev_code(client: TestClient) -> None:
    page = client.post(
        "/login/code?lang=en",
        data=login_form(client, {"phone": "138 0013 8000", "next": "/orders"}),
        headers=HTML,
    )
    assert page.status_code == 200
    assert 'data-testid="code"' in page.text
    assert 'data-testid="sign-in"' in page.text
    assert 'class="devcode" data-testid="dev-code"' in page.text
    assert "138****8000" in page.text
    assert len(dev_code(page.text)) == 6


def test_no_dev_code_on_the_page_when_codes_go_to_the_log(settings: Settings, engine: object) -> None:
    for c in client_for(settings, otp_sender="log"):
        page = c.post("/login/code", data=login_form(c, {"phone": PHONE}), headers=HTML)
        assert page.status_code == 200
        assert 'data-testid="code"' in page.text
        assert "dev-code" not in page.text


def test_signing_in_sets_a_safe_cookie_and_follows_next(client: TestClient) -> None:
    code = dev_code(client.post("/login/code", data=login_form(client, {"phone": PHONE}), headers=HTML).text)
    done = client.post(
        "/login",
        data=login_form(client, {"phone": "+8613800138000", "code": code, "next": "/orders"}),
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/orders"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    page = client.get("/login?lang=en", headers=HTML)
    assert 'data-testid="signed-in-as"' in page.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_sign_in_never_redirects_off_site(client: TestClient, target: str) -> None:
    code = dev_code(client.post("/login/code", data=login_form(client, {"phone": PHONE}), headers=HTML).text)
    done = client.post(
        "/login",
        data=login_form(client, {"phone": PHONE, "code": code, "next": target}),
        follow_redirects=False,
    )
    assert done.headers["location"] == "/"


@pytest.mark.parametrize(("lang", "message"), [("en", "That code is not right"), ("zh-CN", "验证码不正确")])
def test_a_wrong_code_shows_the_form_again_with_the_reason(
    client: TestClient, lang: str, message: str
) -> None:
    code = dev_code(client.post("/login/code", data=login_form(client, {"phone": PHONE}), headers=HTML).text)
    page = client.post(
        f"/login?lang={lang}", data=login_form(client, {"phone": PHONE, "code": wrong(code)}), headers=HTML
    )
    assert page.status_code == 401
    assert 'data-testid="form-error"' in page.text
    assert message in page.text
    assert 'data-testid="code"' in page.text
    assert SESSION_COOKIE not in page.headers.get("set-cookie", "")


def test_a_malformed_code_or_phone_shows_the_form_again(client: TestClient) -> None:
    page = client.post(
        "/login?lang=en", data=login_form(client, {"phone": PHONE, "code": "12ab"}), headers=HTML
    )
    assert page.status_code == 422
    assert "6-digit code" in page.text
    page = client.post("/login/code?lang=en", data=login_form(client, {"phone": "12345"}), headers=HTML)
    assert page.status_code == 422
    assert "mainland China mobile number" in page.text
    assert 'value="12345"' in page.text
    page = client.post("/login/code?lang=en", data=login_form(client, {}), headers=HTML)
    assert page.status_code == 422
    assert 'data-testid="phone"' in page.text


def test_too_many_code_requests_say_when_to_retry(client: TestClient) -> None:
    for _ in range(5):
        assert (
            client.post("/login/code", data=login_form(client, {"phone": PHONE}), headers=HTML).status_code
            == 200
        )
    page = client.post("/login/code?lang=en", data=login_form(client, {"phone": PHONE}), headers=HTML)
    assert page.status_code == 429
    assert "Retry-After" in page.headers
    assert "Too many attempts" in page.text
    assert 'data-testid="phone"' in page.text


def test_staff_sign_in_page(client: TestClient, staff_ids: dict[str, int]) -> None:
    page = client.get("/staff/login?lang=en", headers=HTML)
    for testid in ("username", "password", "sign-in"):
        assert f'data-testid="{testid}"' in page.text
    bad = client.post(
        "/staff/login?lang=en",
        data=login_form(client, {"username": "ops", "password": "nope-nope"}),
        headers=HTML,
    )
    assert bad.status_code == 401
    assert "Wrong username or password." in bad.text
    assert 'value="ops"' in bad.text
    assert "nope-nope" not in bad.text
    done = client.post(
        "/staff/login",
        data=login_form(client, {"username": "ops", "password": PASSWORD, "next": "/staff/orders"}),
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/staff/orders"
    assert "HttpOnly" in done.headers["set-cookie"]


def test_sign_out_checks_the_form_token_and_ends_the_session(client: TestClient) -> None:
    code = dev_code(client.post("/login/code", data=login_form(client, {"phone": PHONE}), headers=HTML).text)
    client.post("/login", data=login_form(client, {"phone": PHONE, "code": code}), follow_redirects=False)
    page = client.get("/login?lang=en", headers=HTML)
    forged = client.post("/logout", data={"csrf_token": "forged"}, headers=HTML, follow_redirects=False)
    assert forged.status_code == 403
    assert 'data-testid="signed-in-as"' in client.get("/login", headers=HTML).text
    done = client.post("/logout", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert done.status_code == 303
    assert 'data-testid="signed-in-as"' not in client.get("/login", headers=HTML).text


def test_signing_out_when_signed_out_just_goes_home(client: TestClient) -> None:
    done = client.post("/logout", data={}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/"


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/login/code", {"phone": PHONE}),
        ("/login", {"phone": PHONE, "code": "123456"}),
        ("/staff/login", {"username": "ops", "password": PASSWORD}),
    ],
)
def test_sign_in_forms_refuse_a_post_without_this_browsers_token(
    client: TestClient, staff_ids: dict[str, int], path: str, fields: dict[str, str]
) -> None:
    """Login CSRF: another site's form can post here, but cannot know this browser's token."""
    missing = client.post(f"{path}?lang=en", data=fields, headers=HTML, follow_redirects=False)
    assert missing.status_code == 403 and "did not come from this site" in missing.text
    other_browser = TestClient(client.app, raise_server_exceptions=False)
    stolen = login_form(other_browser, {})["login_csrf"]  # a token minted for the attacker's browser
    forged = client.post(path, data={**fields, "login_csrf": stolen}, headers=HTML, follow_redirects=False)
    assert forged.status_code == 403
    assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    ok = client.post(path, data=login_form(client, fields), headers=HTML, follow_redirects=False)
    assert ok.status_code in (200, 303, 401)  # through the token check: an ordinary answer


# --- limits that protect accounts without locking them (issue 14) -----------------------------


def test_eight_buyers_behind_one_carrier_address_all_sign_in(client: TestClient) -> None:
    """One CGNAT address (every TestClient request comes from the same host), eight phones."""
    for n in range(8):
        device = {"X-Carloop-Device": f"buyer-app-install-{n:04d}-abcdef"}
        for _ in range(2):
            sent = client.post("/api/v1/auth/code", json={"phone": f"1390013900{n}"}, headers=device)
            assert sent.status_code == 202, sent.text
        signed = client.post(
            "/api/v1/auth/sign-in",
            json={"phone": f"1390013900{n}", "code": sent.json()["dev_code"]},
            headers=device,
        )
        assert signed.status_code == 200, signed.text


def test_guessing_a_staff_password_does_not_lock_out_the_staff_members_own_device(
    settings: Settings, engine: object, staff_ids: dict[str, int]
) -> None:
    """The back-off lives in the database: a second server process sees the first one's counts."""
    own = {"X-Carloop-Device": "ops-own-browser-0123456789"}
    right = {"username": "ops", "password": PASSWORD}
    for first, second in zip(client_for(settings), client_for(settings), strict=True):
        assert first.post("/api/v1/auth/staff/sign-in", json=right, headers=own).status_code == 200
        answers = [
            (first if n % 2 else second)
            .post("/api/v1/auth/staff/sign-in", json={"username": "ops", "password": f"guess-{n}"})
            .status_code
            for n in range(12)
        ]
        assert answers[:5] == [401] * 5 and 429 in answers[5:]  # the guessing backs off, across processes
        refused = second.post("/api/v1/auth/staff/sign-in", json=right)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1  # unknown devices wait
        assert second.post("/api/v1/auth/staff/sign-in", json=right, headers=own).status_code == 200

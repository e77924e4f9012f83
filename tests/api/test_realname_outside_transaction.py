"""The real-name check (a provider call of up to 10 s) runs with no database connection held and no write
transaction open, on the order API and the checkout form as on the intake lane: on SQLite another writer
can take the write lock while the provider answers, on PostgreSQL no pooled connection waits on it."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from carloop.accounts.realname import StandInVerifier, Verified
from carloop.ordering.editions import id_number_with_check

HTML = {"Accept": "text/html"}
FOUNDERS = {"model": "su7", "trim": "founders", "options": []}
WANG = id_number_with_check("11010519880808123")


class Watching(StandInVerifier):
    """The stand-in, noting what the database looks like while it is asked."""

    def __init__(self, client: TestClient) -> None:
        super().__init__()
        self.state = client.app.state  # type: ignore[attr-defined]
        self.seen: list[dict[str, Any]] = []

    def verify(self, name: str, id_number: str) -> Verified:
        engine = self.state.engine
        seen: dict[str, Any] = {"checked_out": engine.pool.checkedout()}
        if engine.dialect.name == "sqlite":  # can another writer take the write lock right now?
            other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                seen["write_lock_free"] = True
            except sqlite3.OperationalError:
                seen["write_lock_free"] = False
            finally:
                other.close()
        else:  # a connection of our own (not the app's pool) asks the server who sits in a transaction
            probe = create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=None)
            try:
                with probe.connect() as conn:
                    seen["idle_in_transaction"] = conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                            " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                        )
                    ).scalar_one()
            finally:
                probe.dispose()
        self.seen.append(seen)
        return super().verify(name, id_number)


def _free(seen: dict[str, Any]) -> bool:
    return (
        seen["checked_out"] == 0 and seen.get("write_lock_free", True) and not seen.get("idle_in_transaction")
    )


def sign_in(client: TestClient, phone: str) -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    client.cookies.set("carloop_session", token)
    return {"Authorization": f"Bearer {token}"}


def _form(client: TestClient) -> dict[str, str]:
    page = client.get("/checkout?model=su7&trim=founders", headers=HTML).text
    form = page[page.index('data-testid="reserve-form"') :]
    return dict(re.findall(r'name="(\w+)" value="([^"]*)"', form[: form.index("</form>")]))


@pytest.fixture
def watching(client: TestClient) -> Watching:
    verifier = Watching(client)
    client.app.state.realname_verifier = verifier  # type: ignore[attr-defined]
    return verifier


def test_the_order_api_asks_the_verifier_outside_the_transaction(
    client: TestClient, watching: Watching
) -> None:
    buyer = sign_in(client, "13700137101")
    body = {"configuration": FOUNDERS, "id_number": WANG, "real_name": "王五"}
    made = client.post("/api/v1/orders", json=body, headers={**buyer, "Idempotency-Key": "o1"})
    assert made.status_code == 201, made.text
    assert len(watching.seen) == 1 and _free(watching.seen[0]), watching.seen
    # Bound now: the number again is not sent (the per-identity limit refuses it in the transaction).
    again = client.post("/api/v1/orders", json=body, headers={**buyer, "Idempotency-Key": "o2"})
    assert again.status_code == 409 and again.json()["code"] == "edition-limit-reached"
    assert len(watching.seen) == 1


def test_the_checkout_form_asks_the_verifier_outside_the_transaction(
    client: TestClient, watching: Watching
) -> None:
    sign_in(client, "13700137102")
    fields = _form(client)
    made = client.post(
        "/orders",
        data={**fields, "id_number": WANG, "real_name": "王五"},
        headers=HTML,
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    assert len(watching.seen) == 1 and _free(watching.seen[0]), watching.seen


def test_nobody_gets_a_paid_check_without_signing_in_or_a_valid_form(
    client: TestClient, watching: Watching
) -> None:
    body = {"configuration": FOUNDERS, "id_number": WANG, "real_name": "王五"}
    anonymous = client.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "x1"})
    assert anonymous.status_code == 401
    sign_in(client, "13700137103")
    fields = _form(client)
    forged = client.post(
        "/orders",
        data={**fields, "csrf_token": "0" * 32, "id_number": WANG, "real_name": "王五"},
        headers=HTML,
    )
    assert forged.status_code == 403
    malformed = client.post(
        "/orders", data={**fields, "id_number": WANG[:-1] + "0", "real_name": "王五"}, headers=HTML
    )
    assert malformed.status_code == 422 and 'data-testid="reserve-error"' in malformed.text
    assert watching.seen == []


def test_a_second_account_on_a_verified_identity_is_still_refused_in_the_write_transaction(
    client: TestClient, watching: Watching
) -> None:
    first, second = sign_in(client, "13700137104"), sign_in(client, "13700137105")
    body = {"configuration": FOUNDERS, "id_number": WANG, "real_name": "王五"}
    assert (
        client.post("/api/v1/orders", json=body, headers={**first, "Idempotency-Key": "a"}).status_code == 201
    )
    taken = client.post("/api/v1/orders", json=body, headers={**second, "Idempotency-Key": "b"})
    assert taken.status_code == 409 and taken.json()["code"] == "identity-taken", taken.text

"""Adversarial: the per-identity edition limit counts bound identities, not typed numbers.

An account binds the first verified identity number it gives (real-name adapter: the local stand-in
here) and may give no other afterwards; an identity bound to one account is refused on any other.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.accounts.identity import bind_identity, bound_hash
from carloop.accounts.models import IdentityBinding
from carloop.accounts.realname import StandInVerifier
from carloop.accounts.verifiers import build_verifier
from carloop.errors import Conflict, ErrorCode, PolicyViolation
from carloop.ordering.editions import id_number_with_check
from carloop.settings import Settings

FOUNDERS = {"model": "su7", "trim": "founders", "options": []}
KEY = b"test-identity-key"


def sign_in(client: TestClient, phone: str) -> dict[str, str]:
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _number(n: int) -> str:
    return id_number_with_check(f"11010519850101{n:03d}")


def _reserve(client: TestClient, headers: dict[str, str], number: str | None, key: str) -> Any:
    body: dict[str, Any] = {"configuration": FOUNDERS}
    if number is not None:
        body["id_number"] = number
        body["real_name"] = "张三"
    return client.post("/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": key})


def test_several_checksum_valid_numbers_on_one_account_do_not_beat_the_limit(client: TestClient) -> None:
    buyer = sign_in(client, "13900139000")
    first = _reserve(client, buyer, _number(1), "k1")
    assert first.status_code == 201, first.text
    for n in range(2, 6):  # each a checksum-valid number of another "person"
        other = _reserve(client, buyer, _number(n), f"k{n}")
        assert other.status_code == 409, other.text
        assert other.headers["content-type"].startswith("application/problem+json")
        assert other.json()["code"] == "identity-mismatch"
    # The bound number itself is held to the edition's limit, with or without typing it again.
    again = _reserve(client, buyer, _number(1), "k-again")
    assert again.status_code == 409 and again.json()["code"] == "edition-limit-reached"
    bare = _reserve(client, buyer, None, "k-bare")
    assert bare.status_code == 409 and bare.json()["code"] == "edition-limit-reached"
    orders = client.get("/api/v1/orders", headers=buyer).json()
    assert len(orders) == 1


def test_one_number_on_two_accounts_is_refused(client: TestClient) -> None:
    first = sign_in(client, "13900139001")
    second = sign_in(client, "13900139002")
    assert _reserve(client, first, _number(7), "a").status_code == 201
    taken = _reserve(client, second, _number(7), "b")
    assert taken.status_code == 409 and taken.json()["code"] == "identity-taken"
    # The refused account is not bound by the refusal: its own identity still works.
    mine = _reserve(client, second, _number(8), "c")
    assert mine.status_code == 201, mine.text


def test_a_real_name_refusal_is_a_problem(client: TestClient) -> None:
    client.app.state.realname_verifier = StandInVerifier([_number(9)])  # type: ignore[attr-defined]
    buyer = sign_in(client, "13900139003")
    refused = _reserve(client, buyer, _number(9), "r")
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "realname-refused"
    # Nothing was bound: the account can still give its own, verifiable number.
    assert _reserve(client, buyer, _number(10), "r2").status_code == 201


def test_the_intake_lane_counts_the_binding_too(client: TestClient) -> None:
    buyer = sign_in(client, "13900139004")
    body = {"configuration": FOUNDERS, "id_number": _number(11), "real_name": "张三"}
    taken = client.post("/api/v1/intake/orders", json=body, headers={**buyer, "Idempotency-Key": "i1"})
    assert taken.status_code == 201, taken.text
    other = {"configuration": FOUNDERS, "id_number": _number(12), "real_name": "张三"}
    refused = client.post("/api/v1/intake/orders", json=other, headers={**buyer, "Idempotency-Key": "i2"})
    assert refused.status_code == 409 and refused.json()["code"] == "identity-mismatch"


def test_bind_identity_is_idempotent_and_refuses_either_side_bound_elsewhere(session: Session) -> None:
    from carloop.accounts.models import Customer

    a, b = (
        Customer(phone="+8613900139005", display_name="a"),
        Customer(phone="+8613900139006", display_name="b"),
    )
    session.add_all([a, b])
    session.flush()
    verifier = StandInVerifier()
    kw: dict[str, Any] = {"session": session, "verifier": verifier, "identity_key": KEY, "name": "张三"}
    h = bind_identity(customer_id=a.id, id_number=_number(20), **kw)
    assert bind_identity(customer_id=a.id, id_number=_number(20).lower(), **kw) == h  # same pair again
    assert bound_hash(session=session, customer_id=a.id) == h
    for customer, number, code in ((a, _number(21), "identity-mismatch"), (b, _number(20), "identity-taken")):
        with pytest.raises(Conflict) as refused:
            bind_identity(customer_id=customer.id, id_number=number, **kw)
        assert refused.value.code == code
    assert session.scalar(select(func.count()).select_from(IdentityBinding)) == 1


class CountingVerifier(StandInVerifier):
    """The stand-in, counting the numbers it was asked about (a real check is paid for)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def verify(self, name: str, id_number: str) -> Any:
        self.asked.append(id_number)
        return super().verify(name, id_number)


def test_an_account_bound_to_one_identity_is_refused_another_without_asking_the_verifier(
    client: TestClient,
) -> None:
    verifier = CountingVerifier()
    client.app.state.realname_verifier = verifier  # type: ignore[attr-defined]
    buyer = sign_in(client, "13900139007")
    assert _reserve(client, buyer, _number(40), "f1").status_code == 201
    assert verifier.asked == [_number(40)]
    for path, key in (("/api/v1/orders", "f2"), ("/api/v1/intake/orders", "f3")):
        body = {"configuration": FOUNDERS, "id_number": _number(41), "real_name": "张三"}
        refused = client.post(path, json=body, headers={**buyer, "Idempotency-Key": key})
        assert refused.status_code == 409 and refused.json()["code"] == "identity-mismatch", refused.text
    assert verifier.asked == [_number(40)]  # number B never reached the provider


def test_the_stand_in_checks_the_checksum_and_its_refusal_list() -> None:
    verifier = build_verifier(Settings(environment="test", realname_standin_refused=[_number(30)]))
    assert verifier.verify("李四", _number(31)).id_number == _number(31)
    for bad in (_number(30), "110105198501010000"):
        with pytest.raises(PolicyViolation) as refused:
            verifier.verify("李四", bad)
        assert refused.value.code == ErrorCode.REALNAME_REFUSED

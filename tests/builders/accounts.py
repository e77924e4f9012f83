"""Builders for accounts: a customer, and signed-in customers and staff for API and page tests."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.accounts.schemas import Role


def owner(session: Session, phone: str = "13800138000") -> int:
    """A customer's id."""
    return accounts.get_or_create_customer(session=session, phone=phone).id


PASSWORD = "correct horse battery staple"


def customer_headers(client: TestClient, phone: str) -> dict[str, str]:
    """Sign a customer in by phone code; their bearer header."""
    code = client.post("/api/v1/auth/code", json={"phone": phone}).json()["dev_code"]
    token = client.post("/api/v1/auth/sign-in", json={"phone": phone, "code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def staff_headers(
    client: TestClient, factory: sessionmaker[Session], username: str, role: Role
) -> dict[str, str]:
    """Create a staff account and sign it in; its bearer header."""
    with factory.begin() as session:
        accounts.create_staff(
            session=session,
            actor=None,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            role=role,
            store_id=None,
        )
    response = client.post("/api/v1/auth/staff/sign-in", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['token']}"}


def csrf_of(html: str) -> str:
    """The anti-forgery token in a page's forms."""
    return html.split('name="csrf_token" value="')[1].split('"')[0]

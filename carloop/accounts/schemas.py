"""Shapes of accounts: roles and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from carloop.accounts.rules import normalise_phone


class Role(StrEnum):
    """What a signed-in person may do."""

    CUSTOMER = "customer"  # a buyer or owner; sees only their own things
    STORE_STAFF = "store_staff"  # works at one store; acts only within it
    HQ_OPS = "hq_ops"  # headquarters operations: catalog, policy, all orders read-only or as allowed
    HQ_FINANCE = "hq_finance"  # headquarters finance: payment reconciliation
    ADMIN = "admin"  # manages staff accounts and roles
    SUPPLIER = "supplier"  # a supplier's user: sees and confirms only its own supplier's parts


STAFF_ROLES = frozenset({Role.STORE_STAFF, Role.HQ_OPS, Role.HQ_FINANCE, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as, resolved from its session token."""

    role: Role
    customer_id: int | None = None
    staff_id: int | None = None
    store_id: int | None = None
    display_name: str = ""
    session_id: int | None = None

    @property
    def is_staff(self) -> bool:
        """Whether this is a staff member of any role."""
        return self.role in STAFF_ROLES

    @property
    def actor(self) -> str:
        """A short label for event and audit rows: ``customer:12`` or ``staff:3``."""
        return f"customer:{self.customer_id}" if self.customer_id is not None else f"staff:{self.staff_id}"


def _phone(raw: str) -> str:
    phone = normalise_phone(raw)
    if phone is None:
        raise ValueError("not a mainland China mobile number (11 digits starting with 1)")
    return phone


# A phone number as typed, normalised to "+86" and 11 digits; anything else is a 422 naming the field.
Phone = Annotated[str, Field(min_length=1, max_length=32, examples=["13800138000"]), AfterValidator(_phone)]


@dataclass(frozen=True, slots=True)
class CodeIssued:
    """A one-time code went out: to which phone, until when, and (development only) the code itself."""

    phone: str
    expires_at: datetime
    expires_in: int
    dev_code: str | None = None


class CodeRequest(BaseModel):
    """Ask for a one-time sign-in code."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone


class CodeIssuedRead(BaseModel):
    """The answer to a code request; ``dev_code`` appears only when codes are shown on the page."""

    sent: bool = True
    expires_in: int
    dev_code: str | None = None


class CodeSignIn(BaseModel):
    """Sign in with a phone and the code sent to it."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone
    code: str = Field(pattern=r"^[0-9]{6}$", examples=["123456"])


class StaffSignIn(BaseModel):
    """Sign in as staff with a username and password."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=256)


class PrincipalRead(BaseModel):
    """Who a token acts as."""

    model_config = ConfigDict(from_attributes=True)

    role: Role
    customer_id: int | None = None
    staff_id: int | None = None
    store_id: int | None = None
    display_name: str


class TokenRead(BaseModel):
    """A new session: the bearer token (shown once) and who it acts as."""

    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    principal: PrincipalRead


class MeRead(PrincipalRead):
    """The signed-in principal with their own contact details."""

    phone: str | None = None
    username: str | None = None


class StaffCreate(BaseModel):
    """A new staff account (admin only)."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=40, examples=["store3"])
    display_name: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=256)
    role: Role
    store_id: int | None = Field(default=None, gt=0, lt=2**63)


class StaffUpdate(BaseModel):
    """Changes to a staff account (admin only); fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    store_id: int | None = Field(default=None, gt=0, lt=2**63)
    active: bool | None = None
    display_name: str | None = Field(default=None, min_length=1, max_length=60)


class StaffRead(BaseModel):
    """A staff account as the admin sees it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    store_id: int | None
    active: bool
    created_at: datetime

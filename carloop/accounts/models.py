"""Tables of accounts: customers, staff, one-time codes, sessions and rate counters."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.accounts.schemas import Role
from carloop.clock import utcnow
from carloop.db import Base, BigId


class PrincipalKind(StrEnum):
    """Who a session belongs to."""

    CUSTOMER = "customer"  # a buyer or owner, signed in with a phone code
    STAFF = "staff"  # a staff member, signed in with a password


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda members: [m.value for m in members])


class Customer(Base):
    """A buyer or owner, known by a mainland mobile number."""

    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)  # "+86" and 11 digits
    display_name: Mapped[str] = mapped_column(String(60))
    id_verified: Mapped[bool] = mapped_column(default=False)  # real-name check, for a later issue
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Customer(id={self.id!r})"


class Staff(Base):
    """A staff member who signs in with a password; store staff belong to one store."""

    __tablename__ = "staff"
    __table_args__ = (
        CheckConstraint("role <> 'customer'", name="not_customer"),
        CheckConstraint("role <> 'store_staff' OR store_id IS NOT NULL", name="store_staff_has_store"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role))
    store_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("store.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Staff(id={self.id!r}, username={self.username!r}, role={self.role!r})"


class LoginCode(Base):
    """A one-time code sent to a phone; only its keyed hash is stored."""

    __tablename__ = "login_code"
    __table_args__ = (Index("ix_login_code_phone_created", "phone", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))


class SessionToken(Base):
    """A signed-in session; only the SHA-256 hash of its bearer token is stored."""

    __tablename__ = "session_token"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'customer' AND customer_id IS NOT NULL AND staff_id IS NULL)"
            " OR (kind = 'staff' AND staff_id IS NOT NULL AND customer_id IS NULL)",
            name="one_principal",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[PrincipalKind] = mapped_column(_enum(PrincipalKind))
    customer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("customer.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))


class RateCounter(Base):
    """How many attempts one key (``signin:ip:1.2.3.4``...) made in one fixed window."""

    __tablename__ = "rate_counter"
    __table_args__ = (UniqueConstraint("key", "window_start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(120))
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(default=0)


class SignInGuard(Base):
    """Back-off state of one sign-in key: an account seen from one known device, or from unknown ones.

    ``failures`` counts wrong attempts (or code requests) since the last success, forgotten after a
    quiet spell; past the free allowance each one doubles the wait in ``blocked_until``. A row whose
    ``known`` is set records that a device once signed in to the account (``known:...`` keys).
    """

    __tablename__ = "sign_in_guard"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_until: Mapped[datetime | None]
    known: Mapped[bool] = mapped_column(default=False)


class IdentityBinding(Base):
    """The one verified identity of a customer account (and the one account of an identity).

    Only the keyed hash of the identity number is kept (``ordering.editions.identity_hash``).
    """

    __tablename__ = "identity_binding"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customer.id"), unique=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"IdentityBinding(customer_id={self.customer_id!r})"

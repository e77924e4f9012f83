"""Shapes of the points and shop API."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from carloop.clock import FIRST_MOMENT, LAST_MOMENT
from carloop.loyalty.models import OwnerEventKind, SignupStatus


class PointsEntryRead(BaseModel):
    """One movement of an owner's points."""

    kind: str
    reason: str
    points: int
    memo: str
    created_at: datetime
    expires_at: datetime | None


class PointsRead(BaseModel):
    """An owner's points: spendable balance, the separate contribution score, and history."""

    balance: int
    contribution_score: int
    expiring_within_90_days: int
    history: list[PointsEntryRead]


class CompensationCreate(BaseModel):
    """Staff grant points to an owner to make up for a fault."""

    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(gt=0, lt=2**63)
    points: int = Field(gt=0, le=100_000)
    reason: str = Field(min_length=3, max_length=200)
    key: str = Field(min_length=1, max_length=80, description="Grants with the same key are made once.")


class ProductRead(BaseModel):
    """A product on sale."""

    sku: str
    name_zh: str
    name_en: str
    price_points: int
    price_fen: int = Field(description="Cash price in fen; 0: sold for points only.")
    stock: int


class CartItem(BaseModel):
    """A product and how many."""

    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=40)
    quantity: int = Field(gt=0, le=99)


class CheckoutCreate(BaseModel):
    """A cart to buy with points, cash, or both."""

    model_config = ConfigDict(extra="forbid")

    items: list[CartItem] = Field(min_length=1, max_length=50)
    points: int | None = Field(
        default=None,
        ge=0,
        le=100_000_000,
        description="Points to pay with (all of the points price when left out); the rest is paid in cash.",
    )


class ShopLineRead(BaseModel):
    """One line of a shop order."""

    sku: str
    name_zh: str
    name_en: str
    quantity: int
    points_each: int


class ShopOrderRead(BaseModel):
    """A shop order; ``pay_url`` is where to pay its cash part while it awaits payment."""

    number: str
    status: str
    points_total: int
    cash_fen: int
    created_at: datetime
    paid_at: datetime | None
    refunded_at: datetime | None
    pay_url: str | None = None
    lines: list[ShopLineRead]


class RefundCreate(BaseModel):
    """Why staff refund a shop order."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=200)


class OwnerEventCreate(BaseModel):
    """Staff announce an owner event."""

    model_config = ConfigDict(extra="forbid")

    kind: OwnerEventKind
    title_zh: str = Field(min_length=2, max_length=200)
    title_en: str = Field(min_length=2, max_length=200)
    city: str = Field(default="", max_length=60)
    starts_at: AwareDatetime = Field(ge=FIRST_MOMENT, le=LAST_MOMENT)
    capacity: int = Field(gt=0, le=100_000)


class OwnerEventRead(BaseModel):
    """An owner event and how many places are left."""

    id: int
    kind: OwnerEventKind
    title_zh: str
    title_en: str
    city: str
    starts_at: datetime
    capacity: int
    places_left: int


class SignupRead(BaseModel):
    """An owner's place (or waitlist spot) for an event."""

    event_id: int
    customer_id: int
    status: SignupStatus


class CheckInCreate(BaseModel):
    """Staff check an owner in."""

    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(gt=0, lt=2**63)


class ReferralRead(BaseModel):
    """My referral code, and how many customers I referred."""

    code: str
    referred: int
    referred_by_me_points_each: int = Field(
        description="Points I earn when someone I referred locks an order."
    )


class ReferralClaim(BaseModel):
    """The code of the owner who referred me."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=4, max_length=16, pattern=r"^[A-Za-z0-9]+$")

"""API shapes of orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from carloop.accounts.schemas import Phone
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import utcnow
from carloop.ordering import editions, rules
from carloop.ordering.models import Order


class OrderCreate(BaseModel):
    """A reservation: the configuration to order and, for limited editions, the identity number."""

    model_config = ConfigDict(extra="forbid")

    configuration: ConfigurationIn
    id_number: str | None = Field(default=None, min_length=15, max_length=20)
    real_name: str | None = Field(default=None, max_length=40)  # for the real-name check of id_number

    @field_validator("id_number")
    @classmethod
    def _valid_id_number(cls, value: str | None) -> str | None:
        if value is not None and not editions.valid_id_number(value):
            raise ValueError("not a valid resident identity number (18 characters, GB 11643 checksum)")
        return value


class LockConfirm(BaseModel):
    """An early lock, confirmed by repeating the deposit and configuration and acknowledging the loss."""

    model_config = ConfigDict(extra="forbid")

    acknowledge_non_refundable: bool
    deposit_fen: int = Field(ge=0, lt=2**63)
    configuration: str = Field(max_length=300)


class CancelRequest(BaseModel):
    """A cancellation; a locked order needs ``accept_forfeit`` because its deposit is kept."""

    model_config = ConfigDict(extra="forbid")

    accept_forfeit: bool = False


class EventRead(BaseModel):
    """One transition on the order's timeline."""

    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    reason: str


class DepositRead(BaseModel):
    """The deposit and, always, whether it can be refunded and until when or why not."""

    amount_fen: int
    refundable: bool
    refundable_until: datetime | None
    not_refundable_reason: str | None
    lock_at_payment: bool


class OrderRead(BaseModel):
    """An order as its owner (or permitted staff) sees it."""

    number: str
    status: rules.OrderStatus
    model: str
    trim: str
    options: list[str]
    catalog_version: str
    total_fen: int
    price_breakdown: list[dict[str, Any]]
    summary: str
    summary_zh: str = ""  # the same headline with Chinese option names and ¥ (for zh-CN pages)
    deposit: DepositRead
    edition: str | None
    edition_number: int | None
    queue_position: int | None = None  # the place in the model's queue (held while unpaid)
    pay_by: datetime | None = None  # an unpaid reservation lapses at this moment
    created_at: datetime
    paid_at: datetime | None
    locked_at: datetime | None
    events: list[EventRead]

    @classmethod
    def of(cls, order: Order, now: datetime | None = None) -> OrderRead:
        """Build the read shape, computing refundability at ``now``."""
        verdict = rules.refundability(
            rules.DepositFacts(order.status, order.lock_at_payment, order.refundable_until), now or utcnow()
        )
        return cls(
            number=order.number,
            status=order.status,
            model=order.model,
            trim=order.trim,
            options=list(order.options),
            catalog_version=order.catalog_version,
            total_fen=order.total_fen,
            price_breakdown=list(order.quote.get("lines", [])),
            summary=str(order.quote.get("summary_en", "")),
            summary_zh=str(order.quote.get("summary_zh", "")),
            deposit=DepositRead(
                amount_fen=order.deposit_fen,
                refundable=verdict.refundable,
                refundable_until=verdict.until,
                not_refundable_reason=str(verdict.reason) if verdict.reason else None,
                lock_at_payment=order.lock_at_payment,
            ),
            edition=order.edition,
            edition_number=order.edition_number,
            queue_position=order.queue_position,
            pay_by=order.payment_due_at if order.status is rules.OrderStatus.PENDING_PAYMENT else None,
            created_at=order.created_at,
            paid_at=order.paid_at,
            locked_at=order.locked_at,
            events=[
                EventRead(
                    at=e.at, actor=e.actor, from_status=e.from_status, to_status=e.to_status, reason=e.reason
                )
                for e in order.events
            ],
        )


class PaymentRead(BaseModel):
    """A payment started for an order, with where to pay it."""

    trade_no: str
    purpose: str
    provider: str
    amount_fen: int
    status: str
    pay_url: str


class ReservationRead(BaseModel):
    """The answer to a reservation: the order and the deposit payment to complete."""

    order: OrderRead
    payment: PaymentRead


class FamilyMemberCreate(BaseModel):
    """Invite a family member by the phone number of their carloop account (they must accept)."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone
    relation: str = Field(min_length=1, max_length=20, examples=["spouse"])


class FamilyMemberRead(BaseModel):
    """A listed family member: the customer an edition order may be handed to."""

    member_id: int
    display_name: str
    relation: str


class FamilyInvitationSent(BaseModel):
    """An invitation was sent if the phone has an account; the answer never says which."""

    status: str = "invited"
    relation: str


class FamilyInvitationRead(BaseModel):
    """An invitation to be someone's family, as the invited person sees it."""

    invitation_id: int
    owner_display_name: str
    relation: str


class TransferCreate(BaseModel):
    """Propose handing an order to a listed family member (by their customer id from the family list)."""

    model_config = ConfigDict(extra="forbid")

    to_member_id: int = Field(gt=0, lt=2**63)


class TransferRead(BaseModel):
    """A proposed or confirmed hand-over; the owner confirms it with ``token``."""

    order_number: str
    to_member_id: int
    token: str
    confirmed: bool
    created_at: datetime
    confirmed_at: datetime | None = None

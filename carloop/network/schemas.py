"""Shapes of the store network: kinds of outlet, what they offer, and their API forms."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class StoreKind(StrEnum):
    """What an outlet of the "1 + N" network does."""

    DELIVERY_CENTRE = "delivery_centre"  # regional hub: storage, handovers and after-sales
    STORE = "store"  # sales and service store
    CAR_CORNER = "car_corner"  # a display corner inside a partner retail store
    SERVICE_OUTLET = "service_outlet"  # after-sales service only


class StoreService(StrEnum):
    """What a buyer can come to an outlet for."""

    TEST_DRIVE = "test_drive"  # drive a demo car of a model on display
    DELIVERY = "delivery"  # take a new car at handover
    SERVICE = "service"  # maintenance and repair in a service bay


class StoreCreate(BaseModel):
    """A new outlet."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=2, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9-]*$", examples=["BJ-DC-01"])
    kind: StoreKind
    name_en: str = Field(min_length=1, max_length=120)
    name_zh: str = Field(min_length=1, max_length=120)
    city: str = Field(min_length=1, max_length=60)
    province: str = Field(min_length=1, max_length=60)


class StoreRead(BaseModel):
    """An outlet as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    kind: StoreKind
    name_en: str
    name_zh: str
    city: str
    province: str


class DemoCarRead(BaseModel):
    """Test-drive cars of one model at a store."""

    model_config = ConfigDict(from_attributes=True)

    model: str
    cars: int


class StoreDetail(StoreRead):
    """An outlet with its place, hours, capacities and what it offers."""

    address: str
    latitude: float | None
    longitude: float | None
    opening_hours: str
    services: list[StoreService]
    demo_cars: list[DemoCarRead]
    delivery_bays: int
    service_bays: int
    technicians: int


class StoreFound(BaseModel):
    """One finder result: the outlet and how far it is."""

    store: StoreDetail
    distance_km: float | None


class CentreAssign(BaseModel):
    """The buyer's city, to choose the order's delivery centre from."""

    model_config = ConfigDict(extra="forbid")

    city: str = Field(min_length=1, max_length=60, examples=["Beijing"])


class CentreAssigned(BaseModel):
    """The delivery centre an order was given."""

    order_number: str
    store: StoreDetail
    distance_km: float | None


class BalancePaymentCreate(BaseModel):
    """Pay part or all of the balance online."""

    model_config = ConfigDict(extra="forbid")

    amount_fen: int = Field(gt=0, lt=2**63, examples=[10_000_000])


class StorePaymentCreate(BaseModel):
    """A balance payment taken at the store's till, recorded by its staff."""

    model_config = ConfigDict(extra="forbid")

    amount_fen: int = Field(gt=0, lt=2**63)
    reference: str = Field(min_length=1, max_length=80, examples=["POS-20260601-0042"])


class BalancePaymentRead(BaseModel):
    """One payment towards an order."""

    model_config = ConfigDict(from_attributes=True)

    trade_no: str
    purpose: str
    provider: str
    amount_fen: int
    status: str
    pay_url: str


class BalanceRead(BaseModel):
    """An order's price, what the ledger holds for it, what is due, and its payments."""

    order_number: str
    total_fen: int
    held_fen: int
    due_fen: int
    settled: bool
    payments: list[BalancePaymentRead]


class HandoverCreate(BaseModel):
    """The handover checklist as staff complete it."""

    model_config = ConfigDict(extra="forbid")

    vin: str = Field(min_length=17, max_length=17, examples=["LSJA24U69PS000001"])
    inspection_passed: bool
    documents_signed: bool


class HandoverRead(BaseModel):
    """A completed handover."""

    model_config = ConfigDict(from_attributes=True)

    order_number: str
    vin: str
    checklist: dict[str, bool]
    actor: str


class NoticeRead(BaseModel):
    """A notice sent (or about to be sent) to the buyer."""

    model_config = ConfigDict(from_attributes=True)

    subject: str
    body: str
    sent: bool

"""Shapes of the store network: kinds of outlet and their read/create forms."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class StoreKind(StrEnum):
    """What an outlet of the "1 + N" network does."""

    DELIVERY_CENTRE = "delivery_centre"  # regional hub: storage, handovers and after-sales
    STORE = "store"  # sales and service store
    CAR_CORNER = "car_corner"  # a display corner inside a partner retail store
    SERVICE_OUTLET = "service_outlet"  # after-sales service only


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

"""What happens to orders, as events other domains react to (after commit, via the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class OrderStatusChanged:
    """Any transition of an order (the specific events below are published as well)."""

    name: ClassVar[str] = "order.status_changed"
    order_id: int
    number: str
    customer_id: int
    from_status: str | None
    to_status: str
    actor: str


@dataclass(frozen=True)
class OrderLocked:
    """An order's configuration is frozen; production may allocate it."""

    name: ClassVar[str] = "order.locked"
    order_id: int
    number: str
    customer_id: int
    model: str
    trim: str


@dataclass(frozen=True)
class OrderCancelled:
    """An order ended without delivery (cancelled or refunded)."""

    name: ClassVar[str] = "order.cancelled"
    order_id: int
    number: str
    customer_id: int
    from_status: str


@dataclass(frozen=True)
class OrderDelivered:
    """A car was handed over: points are due and the car becomes the owner's device."""

    name: ClassVar[str] = "order.delivered"
    order_id: int
    number: str
    customer_id: int
    model: str
    trim: str
    vin: str | None

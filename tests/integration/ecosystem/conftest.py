"""Builders for ecosystem tests: an owner with a home, a delivered car and two home devices."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.ecosystem import service
from carloop.ecosystem.api_schemas import DeviceCreate, HomeCreate
from carloop.ecosystem.models import DeviceKind
from carloop.ecosystem.simulator import PLACES

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class Owner:
    customer_id: int
    car: str
    light: str
    ac: str
    light_id: int
    ac_id: int
    car_id: int


@pytest.fixture
def owner(session_factory: sessionmaker[Session]) -> Owner:
    """A customer with a home by Century Park, a delivered car and a paired light and air conditioner."""
    with session_factory.begin() as session:
        customer = accounts.get_or_create_customer(session=session, phone="13900139000")
        home = service.create_home(
            session=session,
            customer_id=customer.id,
            data=HomeCreate(
                name="Home", latitude=PLACES["home"][0], longitude=PLACES["home"][1], rooms=["living"]
            ),
        )
        car = service.link_vehicle(
            session=session,
            customer_id=customer.id,
            order_id=901,
            vin="LCL000TEST0000001",
            model="su7",
            trim="pro",
        )
        paired = []
        for kind, name in ((DeviceKind.LIGHT, "Hall light"), (DeviceKind.CLIMATE, "Living room AC")):
            _, code = service.add_device(
                session=session,
                customer_id=customer.id,
                data=DeviceCreate(kind=kind, name=name, home_id=home.id, room="living"),
            )
            paired.append(service.pair(session=session, customer_id=customer.id, code=code))
        return Owner(
            customer.id,
            car.entity_id,
            paired[0].entity_id,
            paired[1].entity_id,
            paired[0].device_id,
            paired[1].device_id,
            car.id,
        )


@pytest.fixture
def mqtt_url() -> str:
    """The real broker (CI's Mosquitto); skipped locally when unset, an error on CI."""
    url = os.environ.get("CARLOOP_TEST_MQTT_URL", "")
    if not url:
        if ON_CI:
            pytest.fail("CI must set CARLOOP_TEST_MQTT_URL (Mosquitto on 127.0.0.1:1883)")
        pytest.skip("CARLOOP_TEST_MQTT_URL is not set")
    return url

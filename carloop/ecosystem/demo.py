"""Demo seeding for the ecosystem: the buyer's home by Century Park and, if none was delivered, a car."""

from __future__ import annotations

from sqlalchemy.orm import Session

from carloop.ecosystem import service
from carloop.ecosystem.api_schemas import HomeCreate
from carloop.ecosystem.models import DeviceKind
from carloop.ecosystem.simulator import PLACES

DEMO_VIN = "LCLDEMO0000000001"


def seed_demo(*, session: Session, customer_id: int, link_car_if_missing: bool = True) -> None:
    """Give the demo owner a home (zone.home) and a car parked at the office; idempotent.

    The owner then pairs two home devices, enables "Coming home" and presses "Drive home" on /ecosystem.
    A car delivered through ordering is linked by the outbox handler instead.
    """
    if not service.list_homes(session=session, customer_id=customer_id):
        service.create_home(
            session=session,
            customer_id=customer_id,
            data=HomeCreate(
                name="世纪公园的家",  # the owner names the home; a Shanghai owner writes Chinese
                latitude=PLACES["home"][0],
                longitude=PLACES["home"][1],
                radius_m=150,
                rooms=["客厅", "卧室"],
            ),
        )
    cars = [
        d
        for d in service.list_devices(session=session, customer_id=customer_id)
        if d.kind is DeviceKind.VEHICLE
    ]
    if not cars and link_car_if_missing:
        car = service.link_vehicle(
            session=session, customer_id=customer_id, order_id=None, vin=DEMO_VIN, model="su7", trim="pro"
        )
        cars = [car]
    for car in cars:
        if "latitude" not in car.state:  # park it at the office so "Drive home" has a road to drive
            office = PLACES["office"]
            car.state = {**car.state, "latitude": office[0], "longitude": office[1], "battery": 62.0}
    session.flush()

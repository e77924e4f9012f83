"""Supply builders: suppliers with a signed-in user, and a plan whose 101 kWh battery binds."""

from __future__ import annotations

from sqlalchemy.orm import Session

from carloop.production.schemas import PlanData
from carloop.supply import service
from carloop.supply.models import Supplier

PASSWORD = "supplier-pass-2026"


def supplier(session: Session, code: str = "ningde-cells", username: str = "ningde") -> Supplier:
    """A supplier (``ningde-cells`` supplies the battery packs) with one user ``username``."""
    found = service.create_supplier(session=session, code=code, name_en=f"{code} Ltd", name_zh=f"{code} 公司")
    service.add_user(
        session=session, supplier=found, username=username, display_name=username, password=PASSWORD
    )
    return found


def battery_plan(*, weekly: int = 10) -> PlanData:
    """One SU7 line of ``weekly`` cars and a 101 kWh battery cap as wide, nothing frozen."""
    return PlanData.model_validate(
        {
            "plant": "Test plant",
            "plant_code": "T",
            "wmi": "LT1",
            "frozen_weeks": 0,
            "lines": [{"code": "l1", "name": "Line 1", "models": ["su7"], "weekly_capacity": weekly}],
            "caps": [
                {
                    "code": "battery-101",
                    "kind": "part",
                    "name": "101 kWh battery pack",
                    "weekly": weekly,
                    "trims": ["max", "founders", "ultra"],
                }
            ],
        }
    )

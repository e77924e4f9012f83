"""Demo suppliers for ``make demo``: one per supplier in the bill of materials, each with one login.

The password is public by design and only for the development demo; the CLI never seeds a production
database. The API key of each supplier is random (see ``service.create_supplier``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from carloop.accounts import staff as staff_accounts
from carloop.accounts.demo import DemoLogin
from carloop.accounts.schemas import Role
from carloop.catalog.parts import all_parts
from carloop.supply import service

DEMO_PASSWORD = "carloop-supplier-demo"  # noqa: S105 - public demo password, development only

# supplier code -> (English name, Chinese name, login)
DEMO_SUPPLIERS = {
    "ningde-cells": ("Ningde Cells", "宁德电芯", "ningde"),
    "fudi-power": ("Fudi Power", "弗迪动力", "fudi"),
    "hesai-optics": ("Hesai Optics", "禾赛光电", "hesai"),
    "coatings-east": ("Coatings East", "华东涂料", "coatings"),
    "dicastal-wheels": ("Dicastal Wheels", "戴卡轮毂", "dicastal"),
}


def seed_demo(*, session: Session) -> list[DemoLogin]:
    """Create the suppliers of the bill of materials and one login each, if missing; the logins."""
    logins = []
    for code in sorted({p.supplier for p in all_parts().values()} & set(DEMO_SUPPLIERS)):
        name_en, name_zh, username = DEMO_SUPPLIERS[code]
        supplier = service.by_code(session=session, code=code) or service.create_supplier(
            session=session, code=code, name_en=name_en, name_zh=name_zh
        )
        if staff_accounts.find_staff(session=session, username=username) is None:
            service.add_user(
                session=session,
                supplier=supplier,
                username=username,
                display_name=name_zh,  # the demo's people and firms are named as in China
                password=DEMO_PASSWORD,
            )
        logins.append(DemoLogin(f"Supplier {name_en}", username, DEMO_PASSWORD, Role.SUPPLIER))
    return logins

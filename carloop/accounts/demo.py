"""Demo accounts for ``make demo``: two stores, four staff logins and one customer phone.

The passwords below are public by design and only for the development demo; the CLI must never
seed them into a production database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from carloop.accounts import service
from carloop.accounts.schemas import Role
from carloop.network import service as network
from carloop.network.schemas import StoreKind

DEMO_CUSTOMER_PHONE = "13800138000"

# (code, kind, name_en, name_zh, city, province)
DEMO_STORES = (
    (
        "BJ-DC-01",
        StoreKind.DELIVERY_CENTRE,
        "Beijing Yizhuang Delivery Centre",
        "北京亦庄交付中心",
        "Beijing",
        "Beijing",
    ),
    ("SH-ST-01", StoreKind.STORE, "Shanghai Jing'an Store", "上海静安门店", "Shanghai", "Shanghai"),
)

# (username, display name, password, role, store code); display names as the staff would sign them
DEMO_STAFF = (
    ("admin", "王敏（管理员）", "carloop-admin-demo", Role.ADMIN, None),
    ("ops", "李娜（总部运营）", "carloop-ops-demo", Role.HQ_OPS, None),
    ("store1", "张伟（北京亦庄）", "carloop-store1-demo", Role.STORE_STAFF, "BJ-DC-01"),
    ("store2", "陈静（上海静安）", "carloop-store2-demo", Role.STORE_STAFF, "SH-ST-01"),
)


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """One demo login to print: who it is, what to type as the login, and the secret."""

    who: str
    username: str
    secret: str
    role: Role
    store_code: str | None = None


def seed_demo_accounts(*, session: Session) -> list[DemoLogin]:
    """Create the demo stores, staff and customer if missing (idempotent); returns the logins."""
    store_ids: dict[str, int] = {}
    for code, kind, name_en, name_zh, city, province in DEMO_STORES:
        store = network.find_store(session=session, code=code)
        if store is None:
            store = network.create_store(
                session=session,
                code=code,
                kind=kind,
                name_en=name_en,
                name_zh=name_zh,
                city=city,
                province=province,
            )
        store_ids[code] = store.id
    logins = []
    for username, display_name, password, role, store_code in DEMO_STAFF:
        if service.find_staff(session=session, username=username) is None:
            service.create_staff(
                session=session,
                actor=None,
                username=username,
                display_name=display_name,
                password=password,
                role=role,
                store_id=store_ids[store_code] if store_code else None,
            )
        logins.append(DemoLogin(display_name, username, password, role, store_code))
    service.get_or_create_customer(session=session, phone=DEMO_CUSTOMER_PHONE)
    logins.append(
        DemoLogin("Demo buyer", DEMO_CUSTOMER_PHONE, "one-time code shown on the sign-in page", Role.CUSTOMER)
    )
    return logins

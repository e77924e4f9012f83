"""Demo shop products: ``seed_demo(session=...)`` puts a few accessories and merchandise on sale."""

from __future__ import annotations

from sqlalchemy.orm import Session

from carloop.loyalty import shop
from carloop.loyalty.models import Product

# (sku, name_zh, name_en, price in points, stock)
DEMO_PRODUCTS = (
    ("MUG-01", "品牌马克杯", "Logo mug", 800, 200),
    ("CAP-01", "棒球帽", "Baseball cap", 1200, 150),
    ("KEY-01", "皮质钥匙扣", "Leather key ring", 600, 300),
    ("UMB-01", "晴雨伞", "Umbrella", 1500, 80),
    ("MAT-SU7", "SU7 全天候脚垫", "SU7 all-weather floor mats", 4500, 40),
    ("CHG-7KW", "7 kW 家用充电桩（含安装）", "7 kW home charger (installed)", 45000, 10),
    ("CAR-143", "1:43 车模", "1:43 scale model", 3000, 1),
)


def seed_demo(*, session: Session) -> list[Product]:
    """Put the demo products on sale (idempotent: existing SKUs are updated)."""
    return [
        shop.add_product(session=session, sku=sku, name_zh=zh, name_en=en, price_points=points, stock=stock)
        for sku, zh, en, points, stock in DEMO_PRODUCTS
    ]

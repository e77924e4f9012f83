"""Demo shop products: ``seed_demo(session=...)`` puts a few accessories and merchandise on sale."""

from __future__ import annotations

from sqlalchemy.orm import Session

from carloop.loyalty import shop
from carloop.loyalty.models import Product

# (sku, name_zh, name_en, price in points, stock, cash price in fen; 0 = points only)
DEMO_PRODUCTS = (
    ("MUG-01", "品牌马克杯", "Logo mug", 800, 200, 5900),
    ("CAP-01", "棒球帽", "Baseball cap", 1200, 150, 9900),
    ("KEY-01", "皮质钥匙扣", "Leather key ring", 600, 300, 0),
    ("UMB-01", "晴雨伞", "Umbrella", 1500, 80, 12900),
    ("MAT-SU7", "SU7 全天候脚垫", "SU7 all-weather floor mats", 4500, 40, 39900),
    ("CHG-7KW", "7 kW 家用充电桩（含安装）", "7 kW home charger (installed)", 45000, 10, 399900),
    ("CAR-143", "1:43 车模", "1:43 scale model", 3000, 1, 0),
)


def seed_demo(*, session: Session) -> list[Product]:
    """Put the demo products on sale (idempotent: existing SKUs are updated)."""
    return [
        shop.add_product(
            session=session, sku=sku, name_zh=zh, name_en=en, price_points=points, stock=stock, price_fen=fen
        )
        for sku, zh, en, points, stock, fen in DEMO_PRODUCTS
    ]

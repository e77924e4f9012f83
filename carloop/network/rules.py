"""Pure network rules: distances, what an outlet offers, nearest outlets and centre choice."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from carloop.errors import PolicyViolation
from carloop.network.schemas import StoreKind, StoreService

EARTH_RADIUS_KM = 6371.0088
HIGH_WATER = 0.9  # a centre this full is passed over while a centre with room is within reach
BALANCE_REACH_KM = 300.0  # how far past the nearest centre a buyer may be sent to spread the load

SERVICES: dict[StoreKind, frozenset[StoreService]] = {
    StoreKind.DELIVERY_CENTRE: frozenset(StoreService),
    StoreKind.STORE: frozenset({StoreService.TEST_DRIVE, StoreService.SERVICE}),
    StoreKind.CAR_CORNER: frozenset({StoreService.TEST_DRIVE}),
    StoreKind.SERVICE_OUTLET: frozenset({StoreService.SERVICE}),
}


def services_of(kind: StoreKind) -> frozenset[StoreService]:
    """What an outlet of this kind offers."""
    return SERVICES[kind]


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points (haversine), in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, slots=True)
class Place:
    """Something with an id and coordinates."""

    id: int
    latitude: float
    longitude: float


def nearest(places: Iterable[Place], lat: float, lon: float, limit: int = 10) -> list[tuple[Place, float]]:
    """The ``limit`` places closest to a point, with their distances, nearest first (ties by id)."""
    ranked = sorted(
        ((p, distance_km(lat, lon, p.latitude, p.longitude)) for p in places), key=lambda t: (t[1], t[0].id)
    )
    return ranked[: max(0, limit)]


@dataclass(frozen=True, slots=True)
class CentreLoad:
    """A candidate delivery centre: how far from the buyer, how many orders it holds, how many it can."""

    store_id: int
    distance_km: float
    load: int
    capacity: int

    @property
    def has_room(self) -> bool:
        """Whether it can take one more order."""
        return self.load < self.capacity

    @property
    def comfortable(self) -> bool:
        """Whether it is below the high-water mark after taking one more order."""
        return self.load + 1 <= self.capacity * HIGH_WATER


def choose_centre(candidates: Sequence[CentreLoad]) -> CentreLoad | None:
    """The nearest centre with room, passing over one near its limit for a comfortable one within reach."""
    ranked = sorted(candidates, key=lambda c: (c.distance_km, c.store_id))
    with_room = [c for c in ranked if c.has_room]
    if not with_room:
        return None
    first = with_room[0]
    if first.comfortable:
        return first
    reach = first.distance_km + BALANCE_REACH_KM
    spare = [c for c in with_room if c.comfortable and c.distance_km <= reach]
    return spare[0] if spare else first


def overload(load: int, capacity: int) -> int:
    """How many orders a centre holds beyond its capacity (0 when within it)."""
    return max(0, load - max(0, capacity))


def opening_hours(opens_minute: int, closes_minute: int) -> str:
    """Opening hours as ``10:00-21:00``."""
    return (
        f"{opens_minute // 60:02d}:{opens_minute % 60:02d}-{closes_minute // 60:02d}:{closes_minute % 60:02d}"
    )


def address_halves(address: str) -> tuple[str, str]:
    """An address in English and in Chinese. The sample network writes both in one text,
    ``123 Jiefang Road, Beijing (北京解放路123号)``; an address typed in one language is both halves."""
    text = address.strip()
    head, sep, tail = text.rpartition(" (")
    if sep and head and tail.endswith(")") and tail[:1] >= "\u2e80":
        return head, tail[:-1]
    return text, text


def address_in(address: str, locale: str) -> str:
    """The half of an address a reader of ``locale`` reads (Chinese unless English was chosen)."""
    english, chinese = address_halves(address)
    return english if locale == "en" else chinese


MAX_BAYS = 200  # bays, technicians, demo cars of one model: more is a typing mistake
MAX_STORAGE = 100_000


def parse_time(text: str) -> int | None:
    """Minutes after midnight of ``HH:MM`` (``24:00`` allowed as the end of the day), or None."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2:
        return None
    value = int(hours) * 60 + int(minutes)
    return value if int(minutes) < 60 and 0 <= value <= 24 * 60 else None


def check_outlet(
    *,
    kind: StoreKind,
    hub_kind: StoreKind | None,
    has_satellites: bool,
    opens_minute: int | None,
    closes_minute: int | None,
    counts: Sequence[int],
    demo_cars: dict[str, int],
) -> None:
    """Refuse an outlet whose hub, hours, bays or demo cars make no sense for its kind."""
    if kind is StoreKind.DELIVERY_CENTRE and hub_kind is not None:
        raise PolicyViolation("A delivery centre is a hub itself; it has no hub.")
    if hub_kind is not None and hub_kind is not StoreKind.DELIVERY_CENTRE:
        raise PolicyViolation("A satellite's hub must be a delivery centre.")
    if has_satellites and kind is not StoreKind.DELIVERY_CENTRE:
        raise PolicyViolation("This outlet is the hub of satellites; it stays a delivery centre.")
    if opens_minute is None or closes_minute is None:
        raise PolicyViolation("Enter the opening hours as HH:MM, for example 10:00 and 21:00.")
    if opens_minute >= closes_minute:
        raise PolicyViolation("An outlet closes after it opens.")
    if any(not 0 <= n <= MAX_STORAGE for n in counts):
        raise PolicyViolation("Bays, technicians and capacity are whole numbers from 0.")
    if any(not 0 <= n <= MAX_BAYS for n in demo_cars.values()):
        raise PolicyViolation("An outlet keeps between 0 and 200 demo cars of a model.")
    if any(demo_cars.values()) and StoreService.TEST_DRIVE not in services_of(kind):
        raise PolicyViolation("Only outlets that offer test drives keep demo cars.")

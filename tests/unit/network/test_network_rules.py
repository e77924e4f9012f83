"""Network rules: distances, nearest outlets, centre choice under load, and the sample network."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from carloop.network import rules, sample
from carloop.network.schemas import StoreKind, StoreService

BEIJING = (39.9075, 116.39723)
SHANGHAI = (31.22222, 121.45806)


def test_beijing_to_shanghai_is_about_1070_km() -> None:
    assert 1050 < rules.distance_km(*BEIJING, *SHANGHAI) < 1090


def test_distance_is_symmetric_and_zero_to_itself() -> None:
    assert rules.distance_km(*BEIJING, *BEIJING) == 0
    assert rules.distance_km(*BEIJING, *SHANGHAI) == rules.distance_km(*SHANGHAI, *BEIJING)


def test_nearest_orders_by_distance_and_limits() -> None:
    places = [rules.Place(1, *SHANGHAI), rules.Place(2, *BEIJING), rules.Place(3, 39.0, 117.0)]
    ranked = rules.nearest(places, *BEIJING, limit=2)
    assert [p.id for p, _ in ranked] == [2, 3]


def test_each_kind_offers_its_services() -> None:
    assert rules.services_of(StoreKind.DELIVERY_CENTRE) == frozenset(StoreService)
    assert StoreService.DELIVERY not in rules.services_of(StoreKind.STORE)
    assert rules.services_of(StoreKind.SERVICE_OUTLET) == {StoreService.SERVICE}
    assert rules.services_of(StoreKind.CAR_CORNER) == {StoreService.TEST_DRIVE}


centres = st.lists(
    st.builds(
        rules.CentreLoad,
        store_id=st.integers(1, 10_000),
        distance_km=st.floats(0, 3000, allow_nan=False),
        load=st.integers(0, 500),
        capacity=st.integers(0, 500),
    ),
    max_size=12,
    unique_by=lambda c: c.store_id,
)


@given(centres)
def test_a_centre_is_chosen_only_with_room_and_none_when_all_are_full(
    candidates: list[rules.CentreLoad],
) -> None:
    choice = rules.choose_centre(candidates)
    if any(c.has_room for c in candidates):
        assert choice is not None and choice.has_room
    else:
        assert choice is None


@given(centres)
def test_the_nearest_comfortable_centre_wins_when_the_nearest_has_room(
    candidates: list[rules.CentreLoad],
) -> None:
    choice = rules.choose_centre(candidates)
    with_room = sorted((c for c in candidates if c.has_room), key=lambda c: (c.distance_km, c.store_id))
    if with_room and with_room[0].comfortable:
        assert choice == with_room[0]
    if choice is not None and choice != (with_room[0] if with_room else None):
        # passed over the nearest only for a comfortable centre within reach
        assert choice.comfortable
        assert choice.distance_km <= with_room[0].distance_km + rules.BALANCE_REACH_KM


def test_a_nearly_full_centre_is_passed_over_for_a_comfortable_one_nearby() -> None:
    near_full = rules.CentreLoad(1, 10.0, load=95, capacity=100)
    roomy = rules.CentreLoad(2, 120.0, load=10, capacity=100)
    far = rules.CentreLoad(3, 900.0, load=0, capacity=100)
    assert rules.choose_centre([near_full, roomy, far]) == roomy
    assert rules.choose_centre([near_full, far]) == near_full  # too far to send the buyer


def test_overload_counts_orders_beyond_capacity() -> None:
    assert rules.overload(12, 10) == 2
    assert rules.overload(3, 10) == 0


def test_the_sample_network_has_about_350_outlets_in_100_real_cities() -> None:
    stores = sample.generate()
    assert len(stores) == 350
    assert len({s.city for s in stores}) == 100
    assert len({s.code for s in stores}) == len(stores)
    codes = {s.code for s in stores}
    assert {"BJ-DC-01", "SH-ST-01"} <= codes  # the demo staff's stores
    assert sum(s.kind is StoreKind.DELIVERY_CENTRE for s in stores) == 100  # one centre per city
    for s in stores:
        assert 18 < s.latitude < 54 and 73 < s.longitude < 135  # inside China
        assert s.name_zh and s.province


def test_the_sample_network_is_reproducible_and_placed_at_its_real_city() -> None:
    assert sample.generate() == sample.generate()
    beijing_dc = next(s for s in sample.generate() if s.code == "BJ-DC-01")
    assert rules.distance_km(beijing_dc.latitude, beijing_dc.longitude, *BEIJING) < 10
    assert sample.city_point("北京") == sample.city_point("beijing") == BEIJING


def test_a_sample_address_has_an_english_and_a_chinese_half() -> None:
    address = "123 Jiefang Road, Beijing (北京解放路123号)"
    assert rules.address_halves(address) == ("123 Jiefang Road, Beijing", "北京解放路123号")
    assert rules.address_in(address, "zh_CN") == "北京解放路123号"
    assert rules.address_in(address, "en") == "123 Jiefang Road, Beijing"


def test_an_address_in_one_language_reads_the_same_in_both() -> None:
    for typed in ("No. 1 Road", "北京市朝阳区建国路1号", "Unit 5 (rear entrance)", ""):
        assert rules.address_halves(typed) == (typed, typed)


def test_every_sample_address_splits_into_a_chinese_half_without_latin_letters() -> None:
    for store in sample.generate()[:200]:
        english, chinese = rules.address_halves(store.address)
        assert english != chinese and not any("a" <= c.lower() <= "z" for c in chinese), store.address

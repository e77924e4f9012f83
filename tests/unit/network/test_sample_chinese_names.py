"""The sample network names its cities in simplified Chinese (GeoNames also lists traditional and
Japanese forms: 長春, 宝鶏, 常徳), and the pages can turn a stored English city name into Chinese."""

from carloop.network import sample


def test_every_sample_city_has_a_simplified_chinese_name() -> None:
    names = {c.name: c.name_zh for c in sample.cities()}
    assert names["Changchun"] == "长春" and names["Baoji"] == "宝鸡" and names["Changde"] == "常德"
    for english, chinese in names.items():
        chinese.encode("gb2312")  # raises on a traditional or Japanese character
        assert chinese != english, f"{english} has no Chinese name"


def test_a_stored_english_city_name_reads_in_chinese_and_an_unknown_one_stays() -> None:
    assert sample.city_name_zh("Ürümqi") == "乌鲁木齐"
    assert sample.city_name_zh("Atlantis") == "Atlantis"

"""The catalog over HTTP: the JSON API and the storefront pages, in both languages, never a 500."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carloop.catalog import service

HTML = {"Accept": "text/html"}


class Elements(HTMLParser):
    """Every start tag of a page with its attributes, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def by_testid(self, testid: str) -> dict[str, str | None]:
        """The attributes of the element with ``data-testid``; fails when there is none."""
        for _, attrs in self.found:
            if attrs.get("data-testid") == testid:
                return attrs
        raise AssertionError(f"no element with data-testid={testid!r}")

    def inputs(self, name: str) -> list[dict[str, str | None]]:
        """The input elements named ``name``."""
        return [attrs for tag, attrs in self.found if tag == "input" and attrs.get("name") == name]


def _price(client: TestClient, body: Any, **kwargs: Any) -> Any:
    return client.post("/api/v1/catalog/price", json=body, **kwargs)


# -- JSON API


def test_get_catalog_describes_the_current_version(client: TestClient) -> None:
    response = client.get("/api/v1/catalog")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == service.current_version() and body["current"] is True
    models = {m["code"]: m for m in body["models"]}
    assert set(models) == {"su7", "yu7"}
    su7 = models["su7"]
    assert su7["from_price_fen"] == 215_900_00
    assert {t["code"]: t["price_fen"] for t in su7["trims"]}["ultra"] == 529_900_00
    founders = next(t for t in su7["trims"] if t["code"] == "founders")
    assert founders["edition"] == {"code": "su7-founders", "units": 5000, "numbered": True}
    assert founders["deposit"]["lock_at_payment"] is True
    assert su7["deposit"] == {
        "amount_fen": 500_000,
        "refundable_hours": 168,
        "auto_lock": True,
        "lock_at_payment": False,
        "payment_window_minutes": 15,  # an unpaid reservation lapses after its payment window
    }
    groups = {g["code"]: g for g in su7["groups"]}
    assert groups["paint"]["mode"] == "exactly-one" and groups["paint"]["default"] == "paint-aqua-blue"
    wheel = next(o for o in groups["wheels"]["options"] if o["code"] == "wheel-21-forged")
    assert wheel["requires"] == ["pack-track"] and wheel["trims"] == ["max", "founders"]


def test_get_catalog_serves_an_older_version_on_request(client: TestClient) -> None:
    body = client.get("/api/v1/catalog", params={"version": "2024.03"}).json()
    assert body["version"] == "2024.03" and body["current"] is False
    assert [m["code"] for m in body["models"]] == ["su7"]


def test_an_unknown_catalog_version_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/api/v1/catalog", params={"version": "1999.01"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_get_one_model(client: TestClient) -> None:
    response = client.get("/api/v1/catalog/models/yu7")
    assert response.status_code == 200
    assert [t["code"] for t in response.json()["trims"]] == ["standard", "pro", "max"]


def test_an_unknown_model_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/api/v1/catalog/models/roadster")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "not-found" and "roadster" in response.json()["detail"]


def test_price_returns_the_itemised_quote(client: TestClient) -> None:
    response = _price(client, {"model": "su7", "trim": "max", "options": ["wheel-21-forged", "pack-track"]})
    assert response.status_code == 200, response.text
    quote = response.json()
    assert quote["catalog_version"] == service.current_version()
    assert quote["total_fen"] == sum(line["amount_fen"] for line in quote["lines"])
    assert {"wheel-21-forged", "pack-track", "paint-aqua-blue", "pack-pilot-max"} <= set(quote["options"])
    assert quote["deposit"]["refundable_hours"] == 168 and quote["edition"] is None
    assert quote["summary_en"] and quote["summary_zh"]


def test_price_of_the_founders_edition_says_it_locks_at_payment(client: TestClient) -> None:
    quote = _price(client, {"model": "su7", "trim": "founders"}).json()
    assert quote["edition"] == "su7-founders" and quote["deposit"]["lock_at_payment"] is True


def test_an_invalid_configuration_is_a_422_problem_naming_the_options(client: TestClient) -> None:
    response = _price(
        client, {"model": "su7", "trim": "pro", "options": ["paint-aqua-blue", "paint-pearl-white"]}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "invalid-configuration"
    assert "“Aqua Blue”" in body["detail"] and "“Pearl White”" in body["detail"]
    [problem] = body["problems"]
    assert problem["code"] == "too-many-in-group"
    assert problem["options"] == ["paint-aqua-blue", "paint-pearl-white"]
    assert problem["message_zh"]


def test_unknown_model_trim_and_options_are_invalid_configurations(client: TestClient) -> None:
    assert (
        _price(client, {"model": "roadster", "trim": "pro"}).json()["problems"][0]["code"] == "unknown-model"
    )
    body = _price(client, {"model": "su7", "trim": "gt", "options": ["sunroof"]}).json()
    assert [p["code"] for p in body["problems"]] == ["unknown-trim", "unknown-option"]


def test_an_unknown_field_is_a_422_naming_it(client: TestClient) -> None:
    response = _price(client, {"model": "su7", "trim": "pro", "colour": "red"})
    assert response.status_code == 422
    assert "colour" in response.json()["detail"]
    assert [e["field"] for e in response.json()["errors"]] == ["body.colour"]


def test_malformed_json_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/api/v1/catalog/price",
        content=b'{"model": "su7", "trim":',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed-body"


@pytest.mark.parametrize(
    "body",
    [
        [],
        "su7",
        None,
        {},
        {"model": "su7"},
        {"model": "", "trim": "pro"},
        {"model": "su7", "trim": "pro", "options": "paint-aqua-blue"},
        {"model": "su7", "trim": "pro", "options": [1, 2]},
        {"model": "su7", "trim": "pro", "options": ["x"] * 61},
        {"model": "s" * 41, "trim": "pro"},
    ],
)
def test_a_wrong_body_is_refused_without_a_500(client: TestClient, body: Any) -> None:
    response = _price(client, body)
    assert 400 <= response.status_code < 500, response.text


def test_a_body_that_is_not_json_is_refused_without_a_500(client: TestClient) -> None:
    response = client.post(
        "/api/v1/catalog/price", content=b"model=su7", headers={"Content-Type": "text/plain"}
    )
    assert 400 <= response.status_code < 500


# -- pages


@pytest.mark.parametrize(("lang", "from_text"), [("en", "From CN¥215,900.00"), ("zh-CN", "¥215,900.00 起")])
def test_the_home_page_shows_each_model_with_its_starting_price(
    client: TestClient, lang: str, from_text: str
) -> None:
    response = client.get("/", params={"lang": lang}, headers=HTML)
    assert response.status_code == 200
    assert from_text in response.text
    page = Elements(response.text)
    page.by_testid("model-su7")
    page.by_testid("model-yu7")
    assert client.get("/models", params={"lang": lang}).status_code == 200


def test_the_model_page_lists_trims_prices_and_inclusions(client: TestClient) -> None:
    response = client.get("/models/su7", params={"lang": "en"}, headers=HTML)
    assert response.status_code == 200
    for text in ("SU7 Ultra", "CN¥529,900.00", "Xiaomi Pilot Max driver assistance with LiDAR", "5,000"):
        assert text in response.text
    assert "locks at payment" in response.text


def test_an_unknown_model_page_is_a_404_page(client: TestClient) -> None:
    response = client.get("/models/roadster", headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert client.get("/configure/roadster", headers=HTML).status_code == 404


def test_the_configurator_offers_trims_and_options_with_stable_test_ids(client: TestClient) -> None:
    response = client.get("/configure/su7", params={"lang": "en"}, headers=HTML)
    assert response.status_code == 200
    page = Elements(response.text)
    assert "checked" in page.by_testid("trim-standard")  # the first trim until the buyer picks
    assert page.by_testid("option-paint-aqua-blue")["type"] == "radio"
    assert page.by_testid("option-pack-comfort")["type"] == "checkbox"
    assert page.by_testid("option-pack-comfort")["name"] == "option"
    assert "hidden" not in page.by_testid("unavailable-wheel-21-forged")  # not offered on standard: says so
    page.by_testid("total")
    reserve_form = next(
        attrs for tag, attrs in page.found if tag == "form" and attrs.get("action") == "/checkout"
    )
    assert reserve_form["method"] == "get"
    assert "disabled" not in page.by_testid("reserve")
    assert "CN¥215,900.00" in response.text


def test_the_configurator_prices_the_query_and_reserve_carries_it(client: TestClient) -> None:
    query = "trim=max&option=wheel-21-forged&option=pack-track&option.calipers=caliper-red&lang=en"
    response = client.get(f"/configure/su7?{query}", headers=HTML)
    assert response.status_code == 200
    page = Elements(response.text)
    assert "checked" in page.by_testid("trim-max")
    assert "checked" in page.by_testid("option-wheel-21-forged")
    assert "checked" in page.by_testid("option-caliper-red")
    assert "CN¥323,900.00" in response.text
    assert [i["value"] for i in page.inputs("trim") if i["type"] == "hidden"] == ["max"]
    carried = {i["value"] for i in page.inputs("option") if i["type"] == "hidden"}
    assert {"wheel-21-forged", "pack-track", "caliper-red", "paint-aqua-blue", "pack-pilot-max"} <= carried


def test_the_configurator_lists_conflicts_by_name_and_disables_reserve(client: TestClient) -> None:
    response = client.get("/configure/su7?trim=max&option=wheel-21-forged&lang=en", headers=HTML)
    assert response.status_code == 200
    assert "21-inch forged wheels" in response.text and "requires one of" in response.text
    assert "Track pack" in response.text
    assert "disabled" in Elements(response.text).by_testid("reserve")


def test_the_configurator_lists_conflicts_in_chinese(client: TestClient) -> None:
    response = client.get(
        "/configure/su7?trim=pro&option=paint-aqua-blue&option=paint-pearl-white&lang=zh-CN"
    )
    assert "海湾蓝" in response.text and "珍珠白" in response.text and "只能选一项" in response.text


@pytest.mark.parametrize(
    ("lang", "terms"),
    [
        ("en", "refundable for 7 days (168 hours) after payment; after that the order locks"),
        ("zh-CN", "支付后 7 天（168 小时）内可全额退还"),
    ],
)
def test_the_configurator_states_the_deposit_terms_before_reserving(
    client: TestClient, lang: str, terms: str
) -> None:
    response = client.get("/configure/yu7", params={"lang": lang}, headers=HTML)
    assert terms in response.text


def test_the_founders_edition_says_it_locks_at_payment_before_reserving(client: TestClient) -> None:
    response = client.get("/configure/su7?trim=founders&lang=en", headers=HTML)
    visible = [
        attrs for tag, attrs in Elements(response.text).found if attrs.get("data-deposit-for") == "founders"
    ]
    assert visible and "hidden" not in visible[0]
    assert "This numbered limited edition locks at payment: the deposit is not refundable." in response.text


@pytest.mark.parametrize(
    "query",
    [
        "trim=" + "x" * 500,
        "trim=&option=",
        "option=" + "&option=".join(f"o{i}" for i in range(200)),
        "trim=max&option=" + "y" * 300,
        "trim=max&option.paint=paint-aqua-blue&option.paint=paint-mineral-gray",
        "option.nope=wheel-20",
    ],
)
def test_odd_configurator_queries_never_fail(client: TestClient, query: str) -> None:
    response = client.get(f"/configure/su7?{query}", headers=HTML)
    assert response.status_code == 200

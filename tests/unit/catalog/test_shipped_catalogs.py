"""The catalog files shipped in the package: versions, the real launch prices, deposits and editions."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from carloop.catalog import rules, service
from carloop.catalog.schemas import ConfigurationIn
from carloop.errors import InvalidConfiguration, NotFound
from carloop.money import yuan

QUIET = datetime(2025, 7, 2, tzinfo=UTC)  # no incentive touches a default configuration then


def test_versions_are_listed_oldest_first_and_the_newest_is_current() -> None:
    versions = service.list_versions()
    assert versions == tuple(sorted(versions, key=rules.version_key))
    assert {"2024.03", "2025.07"} <= set(versions)
    assert service.current_catalog().version == versions[-1] == service.current_version()


@pytest.mark.parametrize("version", service.list_versions())
def test_every_trim_of_every_version_prices_with_nothing_chosen(version: str) -> None:
    catalog = service.get_catalog(version)
    for model in catalog.models.values():
        for trim in model.trims.values():
            quote = service.quote(
                config=ConfigurationIn(model=model.code, trim=trim.code), version=version, at=QUIET
            )
            assert quote.total_fen == trim.price_fen
            assert quote.catalog_version == version


@pytest.mark.parametrize(
    ("model", "trim", "launch_price"),
    [
        ("su7", "standard", 215_900),
        ("su7", "pro", 245_900),
        ("su7", "max", 299_900),
        ("su7", "ultra", 529_900),
        ("su7", "founders", 299_900),
        ("yu7", "standard", 253_500),
        ("yu7", "pro", 279_900),
        ("yu7", "max", 329_900),
    ],
)
def test_the_current_catalog_holds_the_public_launch_prices(model: str, trim: str, launch_price: int) -> None:
    assert service.get_model(model).trims[trim].price_fen == yuan(launch_price)


def test_every_model_takes_a_5000_yuan_deposit_refundable_for_168_hours() -> None:
    for model in service.current_catalog().models.values():
        assert model.deposit.amount_fen == yuan(5000)
        assert model.deposit.refundable_hours == 168 and model.deposit.auto_lock


def test_the_founders_edition_is_5000_numbered_cars_that_lock_at_payment() -> None:
    founders = service.get_model("su7").trims["founders"]
    assert founders.edition is not None and founders.edition.units == 5000 and founders.edition.numbered
    assert founders.deposit.lock_at_payment and founders.deposit.refundable_hours == 0
    assert founders.deposit.amount_fen == yuan(5000)
    assert service.edition_units("su7-founders") == 5000
    quote = service.quote(config=ConfigurationIn(model="su7", trim="founders"), at=QUIET)
    assert quote.edition == "su7-founders" and quote.deposit.lock_at_payment


def test_an_older_version_stays_loadable_with_its_own_contents() -> None:
    old = service.get_catalog("2024.03")
    assert set(old.models) == {"su7"}
    assert "ultra" not in old.models["su7"].trims
    with pytest.raises(InvalidConfiguration):
        service.quote(config=ConfigurationIn(model="yu7", trim="max"), version="2024.03")


def test_an_unknown_version_model_or_edition_is_not_found() -> None:
    with pytest.raises(NotFound):
        service.get_catalog("1999.01")
    with pytest.raises(NotFound):
        service.get_model("roadster")
    with pytest.raises(NotFound):
        service.edition_units("nope")


def test_a_conflict_in_the_shipped_catalog_names_the_options() -> None:
    with pytest.raises(InvalidConfiguration) as caught:
        service.quote(config=ConfigurationIn(model="su7", trim="max", options=["wheel-21-forged"]))
    assert caught.value.message.startswith("Option “21-inch forged wheels” requires one of: “Track pack")
    [problem] = caught.value.problems
    assert problem["message_zh"].startswith("选装项“21 英寸锻造轮毂”需要以下之一：“")


def test_the_su7_launch_offer_ran_only_in_its_window() -> None:
    config = ConfigurationIn(model="su7", trim="pro", options=["wheel-20"])
    during = service.quote(config=config, version="2024.03", at=datetime(2024, 4, 1, tzinfo=UTC))
    after = service.quote(config=config, version="2024.03", at=datetime(2024, 5, 2, tzinfo=UTC))
    assert during.total_fen == yuan(245_900) and after.total_fen == yuan(249_900)


def test_quote_uses_the_current_catalog_and_now_by_default() -> None:
    quote = service.quote(config=ConfigurationIn(model="yu7", trim="pro"))
    assert quote.catalog_version == service.current_version()


def test_pricing_takes_microseconds() -> None:
    catalog = service.current_catalog()
    config = ConfigurationIn(
        model="su7", trim="max", options=["wheel-21-forged", "pack-track", "caliper-red"]
    )
    runs = 2000
    started = time.perf_counter()
    for _ in range(runs):
        rules.price(catalog, config, at=QUIET)
    per_quote = (time.perf_counter() - started) / runs
    assert per_quote < 0.001, (
        f"{per_quote * 1e6:.0f} µs per quote"
    )  # ~15 µs on a laptop; generous for shared CI

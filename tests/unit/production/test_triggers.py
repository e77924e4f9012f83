"""A run's trigger is a kind and its values, worded through the catalogs in each language."""

from __future__ import annotations

import re

import pytest

from carloop.catalog.parts import all_parts
from carloop.messages import translations
from carloop.production import triggers
from carloop.production.triggers import TriggerKind

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize("kind", list(TriggerKind))
def test_every_kind_has_a_chinese_message_with_the_same_values(kind: TriggerKind) -> None:
    msgid = triggers.message(kind)
    zh = translations("zh_CN")._catalog.get(msgid)
    if kind is TriggerKind.TEXT:
        assert msgid == "%(text)s"  # the old text, shown as it was stored
        return
    assert zh, f"{msgid!r} has no zh_CN translation"
    assert set(PLACEHOLDER.findall(zh)) == set(PLACEHOLDER.findall(msgid))


def test_a_part_is_stored_by_code_and_shown_by_its_name_in_the_locale() -> None:
    part = all_parts()["battery-101kwh"]
    cause = triggers.supply_changed("ningde-cells", part.code, "2027-01-11", short=True)
    params = {**cause.params, "version": 7}
    assert triggers.values(cause.kind, params, "zh_CN")["part"] == part.name_zh
    assert triggers.english(cause.kind, params) == (
        "Plan v7: supplier ningde-cells short of 101 kWh battery pack from 2027-01-11"
    )


def test_an_unknown_part_or_a_missing_value_still_reads() -> None:
    assert triggers.values("supply_restored", {"part": "gone", "version": 3}, "en") == {
        "version": "3",
        "supplier": "?",
        "part": "gone",
        "week": "?",
    }
    assert triggers.english("no-such-kind", {"text": "legacy words"}) == "legacy words"

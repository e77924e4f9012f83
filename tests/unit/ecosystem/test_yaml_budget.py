"""Scene YAML: aliases are expanded only within a small budget ("billion laughs" is refused fast)."""

from __future__ import annotations

import pytest

from carloop.ecosystem.yaml_io import MAX_EXPANDED_NODES, YamlTooLarge, load_yaml


def laughs(levels: int) -> str:
    """A few hundred bytes that expand tenfold per level (10**levels strings at the bottom)."""
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    lines.append(f"alias: Bomb\ntriggers: *a{levels}")
    return "\n".join(lines) + "\n"


def test_nested_aliases_are_refused_before_they_expand() -> None:
    text = laughs(9)  # 10**9 strings: gigabytes as JSON
    assert len(text) < 600
    with pytest.raises(YamlTooLarge):
        load_yaml(text)


def test_a_self_referring_document_is_refused() -> None:
    with pytest.raises(YamlTooLarge):
        load_yaml("alias: &a\n  loop: *a\n")


def test_deep_nesting_is_refused_not_crashed() -> None:
    with pytest.raises(YamlTooLarge, match="nested"):
        load_yaml("alias: x\ntriggers: " + "[" * 20_000 + "]" * 20_000 + "\n")


def test_too_many_aliases_are_refused_even_when_small() -> None:
    text = "base: &b 1\nitems: [" + ", ".join(["*b"] * 200) + "]\n"
    with pytest.raises(YamlTooLarge):
        load_yaml(text)


def test_ordinary_automations_with_a_few_aliases_still_load() -> None:
    text = (
        "- alias: One\n  triggers: &t\n    - trigger: zone\n      entity_id: vehicle.1\n"
        "      zone: zone.home\n      event: enter\n  actions: []\n"
        "- alias: Two\n  triggers: *t\n  actions: []\n"
    )
    one, two = load_yaml(text)
    assert one["triggers"] == two["triggers"]
    assert MAX_EXPANDED_NODES >= 10_000

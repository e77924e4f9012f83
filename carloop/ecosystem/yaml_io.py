"""Import and export scenes in Home Assistant's automation YAML form.

YAML anchors and aliases let a few hundred bytes stand for gigabytes ("billion laughs": each level
of aliases repeats the one below it ten times). The loader here measures what a document *expands*
to before anything is built from it: the composed node graph is walked once, each node's expanded
size memoised, so the check costs the size of the text, not of the expansion. A document that would
expand past ``MAX_EXPANDED_NODES`` nodes, uses more than ``MAX_ALIASES`` aliases, or refers to itself
is refused with ``YamlTooLarge``.
"""

from __future__ import annotations

from typing import Any

import yaml

from carloop.ecosystem.schemas import SceneDefinition, dump_scene

MAX_ALIASES = 50  # an automation file rarely uses more than a handful
MAX_EXPANDED_NODES = 20_000  # scalars, sequences and mappings after every alias is expanded


class YamlTooLarge(ValueError):
    """The document expands past the budget (nested aliases) or refers to itself."""


def _expanded_size(root: yaml.Node) -> int:
    """How many nodes ``root`` stands for once every alias is expanded (memoised, cycle-safe)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    aliases = 0
    seen: set[int] = set()

    def size(node: yaml.Node) -> int:
        nonlocal aliases
        key = id(node)
        if key in seen:  # a second reference to an anchored node: an alias
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlTooLarge(f"more than {MAX_ALIASES} aliases")
        seen.add(key)
        if key in on_path:
            raise YamlTooLarge("the document refers to itself")
        if key in sizes:
            return sizes[key]
        on_path.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
                if total > MAX_EXPANDED_NODES:
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > MAX_EXPANDED_NODES:
                    break
        on_path.discard(key)
        if total > MAX_EXPANDED_NODES:
            raise YamlTooLarge(f"the document expands to more than {MAX_EXPANDED_NODES} values")
        sizes[key] = total
        return total

    return size(root)


class BudgetLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses documents expanding past the alias and size budget."""

    def construct_document(self, node: yaml.Node) -> Any:
        """Check the expanded size of the composed document, then build it."""
        _expanded_size(node)
        return super().construct_document(node)


def safe_load(text: str) -> Any:
    """One YAML document as Python data, within the alias/size budget (``YamlTooLarge`` otherwise)."""
    loader = BudgetLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_yaml(text: str) -> list[dict[str, Any]]:
    """The automations in a YAML document: one mapping, or a list of them (``automations.yaml``)."""
    try:
        data = safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"not valid YAML: {err}") from err
    except RecursionError as err:  # thousands of nested brackets
        raise YamlTooLarge("the document is nested too deeply") from err
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return data
    raise ValueError("expected an automation mapping or a list of them")


def export_yaml(definitions: list[SceneDefinition]) -> str:
    """An ``automations.yaml`` document for the given scenes."""
    return yaml.safe_dump([dump_scene(d) for d in definitions], allow_unicode=True, sort_keys=False)

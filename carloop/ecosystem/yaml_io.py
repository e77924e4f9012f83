"""Import and export scenes in Home Assistant's automation YAML form."""

from __future__ import annotations

from typing import Any

import yaml

from carloop.ecosystem.schemas import SceneDefinition, dump_scene


def load_yaml(text: str) -> list[dict[str, Any]]:
    """The automations in a YAML document: one mapping, or a list of them (``automations.yaml``)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"not valid YAML: {err}") from err
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return data
    raise ValueError("expected an automation mapping or a list of them")


def export_yaml(definitions: list[SceneDefinition]) -> str:
    """An ``automations.yaml`` document for the given scenes."""
    return yaml.safe_dump([dump_scene(d) for d in definitions], allow_unicode=True, sort_keys=False)
